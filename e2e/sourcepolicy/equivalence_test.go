package sourcepolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/sourcepolicy"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"github.com/rules-repro/rules_repro/tools/policy"
)

const (
	hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	seed  = 20260821
)

// The small alphabet the generated policies and sources are made of.
var (
	identifiers = []string{
		"docker-image://docker.io/library/alpine:latest",
		"docker-image://docker.io/library/alpine:3.20",
		"docker-image://docker.io/library/busybox:latest",
		"docker-image://docker.io/library/alpine@sha256:" + hex64,
		"docker-image://docker.io/library/alpine:3.20@sha256:" + hex64,
		"docker-image://ghcr.io/org/app:v1",
		"https://files.example.com/a.tgz",
		"https://files.example.com/dir/b.tgz",
		"https://mirror.example.org/a.tgz",
		"git://github.com/org/repo.git#main",
		"a", "b", "", "*", "a+b", "(", "**", "$1",
	}
	wildcards = []string{
		"*", "docker-image://*",
		"docker-image://docker.io/library/*:*", "docker-image://docker.io/library/alpine:*",
		"https://files.example.com/*", "https://files.example.com/*/*", "https://*/a.tgz",
		"*alpine*", "*.tgz", "a*", "*b", "$*", "docker-image://docker.io/library/*@sha256:*",
	}
	regexes = []string{
		"alpine", "^https://", "(alp)(ine)", `files\.example\.com/(.*)`, ".*", "a|b", "$",
		"^docker-image://docker.io/library/([a-z]+):(.*)$", "(?P<name>[a-z]+):latest",
		`\d+`, "^a$", "(?i)ALPINE", `^(https)://([^/]+)/(.*)$`,
	}
	templates = []string{
		"$1", "${1}", "$2", "$1abc", "$$", "${0}", "${name}", "x-$1-y", "$",
		"docker-image://mirror.example.com/$1:$2", "https://files.example.com/${1}",
		"docker-image://docker.io/library/$1:latest", "https://mirror.example.org/$3", "a", "b",
	}
	attrKeys         = []string{"http.checksum", "k", "image.recordtype"}
	attrValues       = []string{"", "v", "w", "sha256:ab"}
	constraintValues = []string{"", "v", "w", "sha256:ab", "^v", "w|sha", ".*", "^$"}

	// Invalid patterns, picked now and then (else they end most evaluations),
	// and regexes that match the empty string, which blow identifiers up.
	invalidWildcards        = []string{"**", "docker-image://**", "a**b", "*.tgz**"}
	rareRegexes             = []string{"(", "[a-", "a{2,1}", "x{1001}", "", "b*", "x?"}
	invalidConstraintValues = []string{"[", "(?:", "*"}
)

// maybe returns a pick from rare one time in 25, else from common.
func maybe(r *rand.Rand, common, rare []string) string {
	if r.IntN(25) == 0 {
		return pick(r, rare)
	}
	return pick(r, common)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func genAttrs(r *rand.Rand, max int) map[string]string {
	n := r.IntN(max + 1)
	if n == 0 {
		return nil
	}
	m := map[string]string{}
	for range n {
		m[pick(r, attrKeys)] = pick(r, attrValues)
	}
	return m
}

func genRule(r *rand.Rand) policy.Rule {
	var rule policy.Rule
	switch x := r.IntN(8); {
	case x < 2:
		rule.Action = policy.Allow
	case x < 4:
		rule.Action = policy.Deny
	default:
		rule.Action = policy.Convert
	}
	rule.Selector.MatchType = policy.MatchType(r.IntN(3))
	switch {
	case r.IntN(10) < 3 || rule.Selector.MatchType == policy.Exact:
		rule.Selector.Identifier = pick(r, identifiers)
	case rule.Selector.MatchType == policy.Wildcard:
		rule.Selector.Identifier = maybe(r, wildcards, invalidWildcards)
	default:
		rule.Selector.Identifier = maybe(r, regexes, rareRegexes)
	}
	for n := []int{0, 0, 0, 0, 0, 0, 1, 1, 1, 2}[r.IntN(10)]; n > 0; n-- {
		rule.Selector.Constraints = append(rule.Selector.Constraints, policy.Constraint{
			Key:       pick(r, attrKeys),
			Value:     maybe(r, constraintValues, invalidConstraintValues),
			Condition: policy.Condition(r.IntN(3)),
		})
	}
	if rule.Action != policy.Convert && r.IntN(5) > 0 || rule.Action == policy.Convert && r.IntN(10) == 0 {
		return rule
	}
	u := &policy.Update{}
	switch r.IntN(3) {
	case 0:
	case 1:
		u.Identifier = pick(r, identifiers)
	case 2:
		u.Identifier = pick(r, templates)
	}
	if r.IntN(2) == 0 {
		u.Attrs = genAttrs(r, 2)
		if u.Attrs == nil {
			u.Attrs = map[string]string{}
		}
	}
	rule.Updates = u
	return rule
}

func genPolicy(r *rand.Rand) *policy.Policy {
	p := &policy.Policy{Version: int64(r.IntN(2))}
	for n := 1 + r.IntN(6); n > 0; n-- {
		p.Rules = append(p.Rules, genRule(r))
	}
	// Conversion chains and cycles between plain identifiers.
	if r.IntN(4) == 0 {
		a, b := pick(r, identifiers), pick(r, identifiers)
		p.Rules = append(p.Rules,
			policy.Rule{Action: policy.Convert, Selector: policy.Selector{Identifier: a, MatchType: policy.Exact}, Updates: &policy.Update{Identifier: b}},
			policy.Rule{Action: policy.Convert, Selector: policy.Selector{Identifier: b, MatchType: policy.Exact}, Updates: &policy.Update{Identifier: a}})
	}
	if r.IntN(6) == 0 {
		n := 18 + r.IntN(5) // around the 20-conversion limit
		for i := range n {
			p.Rules = append(p.Rules, policy.Rule{Action: policy.Convert,
				Selector: policy.Selector{Identifier: fmt.Sprintf("chain-%d", i), MatchType: policy.Exact},
				Updates:  &policy.Update{Identifier: fmt.Sprintf("chain-%d", i+1)}})
		}
	}
	r.Shuffle(len(p.Rules), func(i, j int) { p.Rules[i], p.Rules[j] = p.Rules[j], p.Rules[i] })
	return p
}

func genSource(r *rand.Rand) policy.Source {
	id := pick(r, identifiers)
	switch r.IntN(10) {
	case 0:
		id = "chain-0"
	case 1:
		id = "docker-image://docker.io/library/golang:1.22"
	}
	return policy.Source{Identifier: id, Attrs: genAttrs(r, 3)}
}

// fromBuildKit converts BuildKit's parsed policy to ours, for comparison.
func fromBuildKit(bp *spb.Policy) *policy.Policy {
	p := &policy.Policy{Version: bp.Version}
	for _, r := range bp.Rules {
		rule := policy.Rule{
			Action: policy.Action(r.Action),
			Selector: policy.Selector{
				Identifier: r.Selector.Identifier,
				MatchType:  policy.MatchType(r.Selector.MatchType),
			},
		}
		for _, c := range r.Selector.Constraints {
			rule.Selector.Constraints = append(rule.Selector.Constraints, policy.Constraint{Key: c.Key, Value: c.Value, Condition: policy.Condition(c.Condition)})
		}
		if r.Updates != nil {
			rule.Updates = &policy.Update{Identifier: r.Updates.Identifier, Attrs: r.Updates.Attrs}
		}
		p.Rules = append(p.Rules, rule)
	}
	return p
}

// canonical maps empty constraint lists to nil.
func canonical(p *policy.Policy) *policy.Policy {
	c := *p
	c.Rules = append([]policy.Rule(nil), p.Rules...)
	for i := range c.Rules {
		if len(c.Rules[i].Selector.Constraints) == 0 {
			c.Rules[i].Selector.Constraints = nil
		}
	}
	return &c
}

// buildctlParse reads a policy file as `buildctl build --source-policy-file`
// does, then applies the checks the solver makes before using it
// (solver/llbsolver validateSourcePolicy, unexported).
func buildctlParse(data []byte) (*spb.Policy, error) {
	var p spb.Policy
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	for _, r := range p.Rules {
		if r == nil {
			return nil, errors.New("invalid nil rule in policy")
		}
		if r.Selector == nil {
			return nil, errors.New("invalid nil selector in policy")
		}
		for _, c := range r.Selector.Constraints {
			if c == nil {
				return nil, errors.New("invalid nil constraint in policy")
			}
		}
	}
	return &p, nil
}

type outcome int

const (
	okOutcome outcome = iota
	deniedOutcome
	tooManyOutcome
	otherErrOutcome
)

func (o outcome) String() string {
	return [...]string{"ok", "denied", "too many conversions", "error"}[o]
}

func ours(res policy.Result, err error) outcome {
	switch {
	case err == nil:
		return okOutcome
	case errors.Is(err, policy.ErrDenied):
		return deniedOutcome
	case errors.Is(err, policy.ErrTooManyConversions):
		return tooManyOutcome
	}
	return otherErrOutcome
}

func theirs(err error) outcome {
	switch {
	case err == nil:
		return okOutcome
	case errors.Is(err, sourcepolicy.ErrSourceDenied):
		return deniedOutcome
	case errors.Is(err, sourcepolicy.ErrTooManyOps):
		return tooManyOutcome
	}
	return otherErrOutcome
}

func TestEvaluateMatchesBuildKit(t *testing.T) {
	const (
		policies          = 10000
		sourcesPerPolicy  = 8
		maxFailuresToShow = 10
	)
	r := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	counts := map[string]int{}
	failures := 0
	for pi := 0; pi < policies && failures < maxFailuresToShow; pi++ {
		gen := genPolicy(r)
		data, err := gen.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		p, err := policy.Parse(data)
		if err != nil {
			t.Fatalf("our MarshalJSON output does not parse: %v\n%s", err, data)
		}
		bp, err := buildctlParse(data)
		if err != nil {
			t.Fatalf("BuildKit rejects our MarshalJSON output: %v\n%s", err, data)
		}
		if got := fromBuildKit(bp); !reflect.DeepEqual(canonical(got), canonical(p)) {
			t.Fatalf("BuildKit parses other rules from\n%s\ngot  %+v\nwant %+v", data, got, p)
		}
		counts["policies"]++
		engine := sourcepolicy.NewEngine([]*spb.Policy{bp})
		for range sourcesPerPolicy {
			src := genSource(r)
			res, err := policy.Evaluate(p, src)
			if errors.Is(err, policy.ErrIdentifierTooLong) {
				counts["not run through BuildKit: identifier over 64 KiB"]++
				continue
			}
			op := &pb.SourceOp{Identifier: src.Identifier, Attrs: maps.Clone(src.Attrs)}
			mutated, bkErr := engine.Evaluate(ctx, op)
			o, b := ours(res, err), theirs(bkErr)
			counts["evaluations"]++
			counts["outcome: "+o.String()]++
			if res.Conversions > 0 && o == okOutcome {
				counts["converted"]++
			}
			bkAttrs := op.Attrs
			if bkAttrs == nil {
				bkAttrs = map[string]string{}
			}
			// BuildKit's "mutated" is only meaningful without an error.
			mismatch := o != b || res.Identifier != op.Identifier || !maps.Equal(res.Attrs, bkAttrs) ||
				(bkErr == nil && mutated != (res.Conversions > 0))
			if o == deniedOutcome && b == deniedOutcome && !strings.Contains(bkErr.Error(), fmt.Sprintf("source %q denied", res.Identifier)) {
				mismatch = true
			}
			if mismatch {
				failures++
				t.Errorf("policy %d, source %q %v:\n%s\nours:     %s %q %v conversions=%d err=%v\nBuildKit: %s %q %v mutated=%t err=%v",
					pi, src.Identifier, src.Attrs, data, o, res.Identifier, res.Attrs, res.Conversions, err, b, op.Identifier, op.Attrs, mutated, bkErr)
			}
		}
	}
	report(t, counts)
	if counts["outcome: ok"] == 0 || counts["outcome: denied"] == 0 || counts["outcome: too many conversions"] == 0 || counts["outcome: error"] == 0 || counts["converted"] == 0 {
		t.Errorf("the generator does not cover every outcome: %v", counts)
	}
}

func report(t *testing.T, counts map[string]int) {
	t.Helper()
	var lines []string
	for _, k := range sortedKeys(counts) {
		lines = append(lines, fmt.Sprintf("  %-70s %d", k, counts[k]))
	}
	t.Logf("cases compared:\n%s", strings.Join(lines, "\n"))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
