package sourcepolicy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/sourcepolicy"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"github.com/rules-repro/rules_repro/tools/policy"
)

// TestWildcardsMatchBuildKit compares WILDCARD selectors of up to
// policy.MaxWildcards "*" with BuildKit's engine: a CONVERT rule whose
// destination lists every capture shows where each group starts and ends.
// The identifiers hold what a byte comparison gets wrong: "\n" (which "*"
// does not match), invalid UTF-8 (read as U+FFFD) and multi-byte runes.
// One "*" more is refused by tools/policy and accepted by BuildKit.
func TestWildcardsMatchBuildKit(t *testing.T) {
	alphabet := []string{"a", "a", "b", "/", ":", "\n", "\xff", "\uFFFD", "é"}
	r := rand.New(rand.NewPCG(seed, 2))
	gen := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	// fill is what a "*" of a matching identifier stands for: mostly
	// without "\n", which no "*" matches.
	fill := func() string {
		s := gen(r.IntN(4))
		if r.IntN(10) > 0 {
			s = strings.ReplaceAll(s, "\n", "")
		}
		return s
	}
	ctx := context.Background()
	counts := map[string]int{}
	for i := 0; i < 3000; i++ {
		stars := r.IntN(policy.MaxWildcards + 1)
		if i%10 == 0 {
			stars = policy.MaxWildcards
		}
		var pat strings.Builder
		var dest strings.Builder
		pat.WriteString(gen(r.IntN(3)))
		for s := 1; s <= stars; s++ {
			pat.WriteString("*" + gen(1+r.IntN(2))) // no "**"
			fmt.Fprintf(&dest, "${%d}|", s)
		}
		pattern := pat.String()
		// Half the identifiers are made from the pattern, so that they
		// match with groups of every length.
		id := gen(r.IntN(40))
		if r.IntN(2) == 0 {
			id = pattern
			for strings.Contains(id, "*") {
				id = strings.Replace(id, "*", fill(), 1)
			}
		}
		rule := policy.Rule{Action: policy.Convert, Selector: policy.Selector{Identifier: pattern, MatchType: policy.Wildcard},
			Updates: &policy.Update{Identifier: "converted:" + dest.String()}}
		// Through JSON, as both read it: invalid UTF-8 in the pattern
		// becomes U+FFFD.
		data, err := (&policy.Policy{Rules: []policy.Rule{rule}}).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		p, err := policy.Parse(data)
		if err != nil {
			t.Fatalf("Parse refuses %d \"*\": %v", stars, err)
		}
		bp, err := buildctlParse(data)
		if err != nil {
			t.Fatal(err)
		}
		res, err := policy.Evaluate(p, policy.Source{Identifier: id})
		op := &pb.SourceOp{Identifier: id}
		_, bkErr := sourcepolicy.NewEngine([]*spb.Policy{bp}).Evaluate(ctx, op)
		o, b := ours(res, err), theirs(bkErr)
		counts["outcome: "+o.String()]++
		if res.Conversions > 0 {
			counts["converted"]++
		}
		if o != b || res.Identifier != op.Identifier {
			t.Fatalf("pattern %q on %q:\nours:     %s %q err=%v\nBuildKit: %s %q err=%v", pattern, id, o, res.Identifier, err, b, op.Identifier, bkErr)
		}
	}
	report(t, counts)
	if counts["converted"] < 500 {
		t.Errorf("too few matches to compare captures: %v", counts)
	}

	// One "*" more: BuildKit takes it, tools/policy refuses it.
	over := "docker-image://" + strings.Repeat("*a", policy.MaxWildcards+1)
	data := fmt.Appendf(nil, `{"rules": [{"action": "DENY", "selector": {"identifier": %q, "match_type": "WILDCARD"}}]}`, over)
	if _, err := buildctlParse(data); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Parse(data); err == nil || !strings.Contains(err.Error(), "more than 32") {
		t.Errorf("Parse of %d \"*\": %v", policy.MaxWildcards+1, err)
	}
	p := &policy.Policy{Rules: []policy.Rule{{Action: policy.Deny, Selector: policy.Selector{Identifier: over, MatchType: policy.Wildcard}}}}
	if _, err := policy.Evaluate(p, policy.Source{Identifier: "docker-image://a"}); !errors.Is(err, policy.ErrTooManyWildcards) {
		t.Errorf("Evaluate of %d \"*\": %v", policy.MaxWildcards+1, err)
	}
}
