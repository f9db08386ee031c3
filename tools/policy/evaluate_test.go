package policy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func allow(mt MatchType, sel string, cs ...Constraint) Rule {
	return Rule{Action: Allow, Selector: Selector{Identifier: sel, MatchType: mt, Constraints: cs}}
}

func deny(mt MatchType, sel string, cs ...Constraint) Rule {
	return Rule{Action: Deny, Selector: Selector{Identifier: sel, MatchType: mt, Constraints: cs}}
}

func convert(mt MatchType, sel, dest string, attrs map[string]string, cs ...Constraint) Rule {
	return Rule{Action: Convert, Selector: Selector{Identifier: sel, MatchType: mt, Constraints: cs}, Updates: &Update{Identifier: dest, Attrs: attrs}}
}

const alpine = "docker-image://docker.io/library/alpine:latest"

func TestEvaluate(t *testing.T) {
	chain := func(n int) []Rule {
		var rs []Rule
		for i := 0; i < n; i++ {
			rs = append(rs, convert(Exact, fmt.Sprintf("s%d", i), fmt.Sprintf("s%d", i+1), nil))
		}
		return rs
	}
	for _, tc := range []struct {
		name    string
		rules   []Rule
		src     Source
		wantID  string
		attrs   map[string]string
		denied  int // rule index, or -1
		convs   int
		wantErr string // substring; "" for success (or a denial)
	}{
		{name: "no rules", src: Source{Identifier: alpine}, wantID: alpine, denied: -1},
		{name: "deny all images", rules: []Rule{deny(Wildcard, "docker-image://*")}, src: Source{Identifier: alpine}, wantID: alpine, denied: 0},
		{name: "deny then allow", rules: []Rule{deny(Wildcard, "docker-image://*"), allow(Exact, alpine)}, src: Source{Identifier: alpine}, wantID: alpine, denied: -1},
		{name: "allow then deny", rules: []Rule{allow(Exact, alpine), deny(Wildcard, "docker-image://*")}, src: Source{Identifier: alpine}, wantID: alpine, denied: 1},
		{name: "last deny named", rules: []Rule{deny(Wildcard, "*"), allow(Wildcard, "docker-image://*"), deny(Regex, "alpine"), allow(Exact, "other")}, src: Source{Identifier: alpine}, wantID: alpine, denied: 2},
		{name: "no match", rules: []Rule{deny(Wildcard, "https://*")}, src: Source{Identifier: alpine}, wantID: alpine, denied: -1},
		{
			name:   "wildcard captures",
			rules:  []Rule{convert(Wildcard, "docker-image://docker.io/library/*:*", "docker-image://mirror.example.com/${1}:${2}-alpine", nil)},
			src:    Source{Identifier: "docker-image://docker.io/library/golang:1.22"},
			wantID: "docker-image://mirror.example.com/golang:1.22-alpine", denied: -1, convs: 1,
		},
		{
			name:   "destination matched by its own selector",
			rules:  []Rule{convert(Wildcard, "docker-image://docker.io/library/golang:*", "docker-image://docker.io/library/golang:${1}-alpine", nil)},
			src:    Source{Identifier: "docker-image://docker.io/library/golang:1.22"},
			wantID: "docker-image://docker.io/library/golang:1.22" + strings.Repeat("-alpine", 21), denied: -1, convs: 21, wantErr: "too many conversions",
		},
		{
			name:   "wildcard $1abc is a named group",
			rules:  []Rule{convert(Wildcard, "x-*", "y-$1abc", nil)},
			src:    Source{Identifier: "x-1"},
			wantID: "y-", denied: -1, convs: 1,
		},
		{
			name:   "wildcard does not match newline",
			rules:  []Rule{deny(Wildcard, "a*")},
			src:    Source{Identifier: "a\nb"},
			wantID: "a\nb", denied: -1,
		},
		{
			name:   "conversion restarts from the first rule",
			rules:  []Rule{deny(Exact, "b"), convert(Exact, "a", "b", nil)},
			src:    Source{Identifier: "a"},
			wantID: "b", denied: 0, convs: 1,
		},
		{
			name:   "deny before a conversion is forgotten",
			rules:  []Rule{deny(Exact, "a"), convert(Exact, "a", "b", nil)},
			src:    Source{Identifier: "a"},
			wantID: "b", denied: -1, convs: 1,
		},
		{
			name:   "conversion that changes nothing goes on",
			rules:  []Rule{convert(Exact, "a", "a", map[string]string{"k": "v"}, Constraint{Key: "k", Value: "v"}), deny(Exact, "a")},
			src:    Source{Identifier: "a", Attrs: map[string]string{"k": "v"}},
			wantID: "a", attrs: map[string]string{"k": "v"}, denied: 1,
		},
		{
			name:   "attrs-only conversion",
			rules:  []Rule{convert(Exact, "https://example.com/f", "", map[string]string{"http.checksum": "sha256:ab"})},
			src:    Source{Identifier: "https://example.com/f", Attrs: map[string]string{"other": "x"}},
			wantID: "https://example.com/f", attrs: map[string]string{"http.checksum": "sha256:ab", "other": "x"}, denied: -1, convs: 1,
		},
		{
			name:   "empty attr value is no change",
			rules:  []Rule{convert(Exact, "a", "", map[string]string{"k": ""}), deny(Exact, "a", Constraint{Key: "k", Condition: Equal})},
			src:    Source{Identifier: "a"},
			wantID: "a", denied: 1,
		},
		{
			name:   "wildcard attrs-only conversion replaces the source with the pattern",
			rules:  []Rule{convert(Wildcard, "https://files.example.com/*", "", map[string]string{"http.checksum": "sha256:ab"})},
			src:    Source{Identifier: "https://files.example.com/a.tgz"},
			wantID: "https://files.example.com/*", attrs: map[string]string{"http.checksum": "sha256:ab"}, denied: -1, convs: 1,
		},
		{
			name:   "regex replaces every match, unanchored",
			rules:  []Rule{convert(Regex, "a(l)", "[$1]", nil)},
			src:    Source{Identifier: "docker-image://docker.io/library/alpine:alpha"},
			wantID: "docker-image://docker.io/library/[l]pine:[l]pha", denied: -1, convs: 1,
		},
		{
			name:   "regex attrs-only conversion writes the pattern text",
			rules:  []Rule{convert(Regex, "alp.ne", "", map[string]string{"k": "v"})},
			src:    Source{Identifier: alpine},
			wantID: "docker-image://docker.io/library/alp.ne:latest", attrs: map[string]string{"k": "v"}, denied: -1, convs: 1,
		},
		{
			name:   "regex ${0} keeps the source",
			rules:  []Rule{convert(Regex, "alp.ne", "${0}", map[string]string{"k": "v"})},
			src:    Source{Identifier: alpine},
			wantID: alpine, attrs: map[string]string{"k": "v"}, denied: -1, convs: 1,
		},
		{
			name:   "exact destination is literal",
			rules:  []Rule{convert(Exact, "a", "b$1", nil)},
			src:    Source{Identifier: "a"},
			wantID: "b$1", denied: -1, convs: 1,
		},
		{
			name:   "identical identifier matches any type",
			rules:  []Rule{deny(Regex, "a+b"), deny(Wildcard, "a+b")},
			src:    Source{Identifier: "a+b"},
			wantID: "a+b", denied: 1,
		},
		{
			name: "constraints",
			rules: []Rule{
				deny(Wildcard, "*", Constraint{Key: "a", Value: "1", Condition: Equal}),
				deny(Wildcard, "*", Constraint{Key: "b", Value: "", Condition: NotEqual}),
				deny(Wildcard, "*", Constraint{Key: "a", Value: "^1$", Condition: Matches}, Constraint{Key: "c", Value: "", Condition: Equal}),
				deny(Wildcard, "*", Constraint{Key: "a", Value: "2", Condition: Matches}),
			},
			src:    Source{Identifier: "x", Attrs: map[string]string{"a": "1"}},
			wantID: "x", attrs: map[string]string{"a": "1"}, denied: 2,
		},
		{name: "20 conversions", rules: chain(20), src: Source{Identifier: "s0"}, wantID: "s20", denied: -1, convs: 20},
		{name: "21 conversions", rules: chain(21), src: Source{Identifier: "s0"}, wantID: "s21", denied: -1, convs: 21, wantErr: "too many conversions"},
		{
			name:   "cycle",
			rules:  []Rule{convert(Exact, "a", "b", nil), convert(Exact, "b", "a", nil)},
			src:    Source{Identifier: "a"},
			wantID: "b", denied: -1, convs: 21, wantErr: "too many conversions",
		},
		{
			name:   "attribute cycle",
			rules:  []Rule{convert(Exact, "a", "", map[string]string{"k": "1"}, Constraint{Key: "k", Value: "1", Condition: NotEqual}), convert(Exact, "a", "", map[string]string{"k": "2"}, Constraint{Key: "k", Value: "1", Condition: Equal})},
			src:    Source{Identifier: "a"},
			wantID: "a", attrs: map[string]string{"k": "1"}, denied: -1, convs: 21, wantErr: "too many conversions",
		},
		{name: "invalid regex", rules: []Rule{deny(Regex, "(")}, src: Source{Identifier: "x"}, wantID: "x", denied: -1, wantErr: `rule 0: invalid REGEX selector "("`},
		{name: "invalid regex, identical", rules: []Rule{deny(Regex, "(")}, src: Source{Identifier: "("}, wantID: "(", denied: 0},
		{name: "invalid regex, identical, convert", rules: []Rule{convert(Regex, "(", "x", nil)}, src: Source{Identifier: "("}, wantID: "(", denied: -1, wantErr: "invalid REGEX"},
		{name: "double star", rules: []Rule{allow(Exact, "y"), deny(Wildcard, "**")}, src: Source{Identifier: "x"}, wantID: "x", denied: -1, wantErr: `rule 1: invalid WILDCARD selector "**"`},
		{name: "double star behind a constraint", rules: []Rule{deny(Wildcard, "**", Constraint{Key: "k", Value: "v"})}, src: Source{Identifier: "x"}, wantID: "x", denied: -1},
		{name: "invalid constraint regexp", rules: []Rule{deny(Wildcard, "*", Constraint{Key: "k", Value: "[", Condition: Matches})}, src: Source{Identifier: "x"}, wantID: "x", denied: -1, wantErr: "rule 0: constraint 0: invalid MATCHES regexp"},
		{name: "convert without updates", rules: []Rule{{Action: Convert, Selector: Selector{Identifier: "x"}}}, src: Source{Identifier: "x"}, wantID: "x", denied: -1, wantErr: "rule 0: CONVERT rule has no updates"},
		{name: "convert without updates, no match", rules: []Rule{{Action: Convert, Selector: Selector{Identifier: "y"}}}, src: Source{Identifier: "x"}, wantID: "x", denied: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Evaluate(&Policy{Rules: tc.rules}, tc.src)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
			case tc.denied >= 0:
				var de *DeniedError
				if !errors.As(err, &de) || !errors.Is(err, ErrDenied) {
					t.Fatalf("error %v, want a denial", err)
				}
				for _, s := range []string{fmt.Sprintf("%q", res.Identifier), fmt.Sprintf("rule %d", tc.denied)} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("denial %q does not name %s", err, s)
					}
				}
			case err != nil:
				t.Fatal(err)
			}
			attrs := tc.attrs
			if attrs == nil {
				attrs = map[string]string{}
			}
			want := Result{Identifier: tc.wantID, Attrs: attrs, Denied: tc.denied >= 0, DeniedBy: tc.denied, Conversions: tc.convs}
			if !reflect.DeepEqual(res, want) {
				t.Errorf("got %+v\nwant %+v", res, want)
			}
		})
	}
}

func TestEvaluateDoesNotModifyInput(t *testing.T) {
	attrs := map[string]string{"k": "v"}
	p := &Policy{Rules: []Rule{convert(Exact, "a", "b", map[string]string{"k": "w"})}}
	res, err := Evaluate(p, Source{Identifier: "a", Attrs: attrs})
	if err != nil {
		t.Fatal(err)
	}
	if attrs["k"] != "v" || res.Attrs["k"] != "w" {
		t.Errorf("input attrs %v, result attrs %v", attrs, res.Attrs)
	}
	if _, err := Evaluate(nil, Source{Identifier: "a"}); err != nil {
		t.Errorf("nil policy: %v", err)
	}
}

func TestEvaluateBoundsIdentifierGrowth(t *testing.T) {
	// An empty REGEX matches between all characters: "?" becomes "ab?ab",
	// then "abaabb?abaabb"... BuildKit would go on for 20 conversions.
	p := &Policy{Rules: []Rule{convert(Regex, "", "ab", nil)}}
	res, err := Evaluate(p, Source{Identifier: "?"})
	if !errors.Is(err, ErrIdentifierTooLong) {
		t.Fatalf("error %v, want an identifier length error", err)
	}
	if len(res.Identifier) > MaxIdentifierLength || res.Conversions == 0 || res.Conversions > MaxConversions {
		t.Errorf("identifier of %d bytes after %d conversions", len(res.Identifier), res.Conversions)
	}
}

// TestEvaluatorScales evaluates a lockfile-shaped policy (one EXACT pin per
// source, then a few patterns) on every pinned source: the rules tried must
// grow linearly with the number of sources, not with its square, and the
// results must be those of Evaluate.
func TestEvaluatorScales(t *testing.T) {
	tried := func(n int) int {
		p := &Policy{}
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("docker-image://r.example/app%d:1", i)
			p.Rules = append(p.Rules, convert(Exact, id, id+"@sha256:"+strings.Repeat("a", 64), nil))
		}
		p.Rules = append(p.Rules,
			deny(Wildcard, "docker-image://*"),
			allow(Wildcard, "docker-image://r.example/*"),
			// A constraint that fails on no source keeps an EXACT rule general.
			deny(Exact, "docker-image://r.example/app0:1@sha256:"+strings.Repeat("a", 64), Constraint{Key: "k", Value: "^$", Condition: Matches}))
		e := NewEvaluator(p)
		for i := 0; i < n; i++ {
			src := Source{Identifier: fmt.Sprintf("docker-image://r.example/app%d:1", i)}
			got, err := e.Evaluate(src)
			if i%100 == 0 { // Evaluate prepares the whole policy at each call
				want, wantErr := Evaluate(p, src)
				if !reflect.DeepEqual(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("source %d: Evaluator gives %+v, %v; Evaluate %+v, %v", i, got, err, want, wantErr)
				}
			}
			if i == 0 && (err == nil || !got.Denied) || i > 0 && (err != nil || got.Conversions != 1) {
				t.Fatalf("source %d: %+v, %v", i, got, err)
			}
		}
		return e.tried
	}
	small, large := tried(500), tried(2000)
	// Each source: its pin, which converts it, then the 3 general rules on
	// the pinned identifier: 4 rules, whatever n is.
	if small != 4*500 || large != 4*2000 {
		t.Errorf("rules tried: %d for 500 sources, %d for 2000; want 4 per source", small, large)
	}
}
