package policy

import (
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	p := &Policy{Rules: []Rule{
		deny(Wildcard, "docker-image://**"),
		allow(Regex, "a(b"),
		deny(Exact, "x", Constraint{Key: "k", Value: "[", Condition: Matches}),
		{Action: Convert, Selector: Selector{Identifier: "x"}},
		convert(Wildcard, "https://files.example.com/*/$x/*", "", map[string]string{"http.checksum": "sha256:ab"}),
		convert(Regex, "files\\.example\\.com", "", map[string]string{"k": "v"}),
		convert(Wildcard, "docker-image://docker.io/library/*:*", "docker-image://mirror/$1:$3", nil),
		convert(Wildcard, "docker-image://docker.io/library/golang:*", "docker-image://mirror/golang:$1abc", nil),
		convert(Regex, "(?P<tag>[0-9]+)$", "${tag}-${nope}", nil),
		convert(Regex, "files.example.com", "", map[string]string{"k": "v"}),
		// No warnings for these.
		convert(Regex, "files", "", map[string]string{"k": "v"}),
		convert(Wildcard, "https://example.com/f", "", map[string]string{"k": "v"}),
		convert(Exact, "https://example.com/*", "", map[string]string{"k": "v"}),
		convert(Wildcard, "docker-image://*:*", "docker-image://${1}:${2}$$1", nil),
		convert(Regex, "(a)", "$1-$$-${0}", nil),
		deny(Wildcard, "*", Constraint{Key: "k", Value: "^v+$", Condition: Matches}),
	}}
	want := []string{
		`rules[0].selector.identifier: invalid WILDCARD pattern "docker-image://**"`,
		`rules[1].selector.identifier: invalid REGEX pattern "a(b"`,
		`rules[2].selector.constraints[0].value: invalid MATCHES regexp "["`,
		`rules[3].updates: CONVERT rule without updates`,
		`rules[4].updates.identifier: empty, so BuildKit replaces each matching source with the literal pattern "https://files.example.com/*/$x/*"; to keep the source, set it to "https://files.example.com/${1}/$$x/${2}"`,
		`rules[5].updates.identifier: empty, so BuildKit replaces each match of "files\\.example\\.com" in the source with that pattern's text`,
		`rules[6].updates.identifier: refers to capture $3 but the selector has only 2`,
		`rules[7].updates.identifier: "$1abc" is read as the capture named "1abc", which is empty; write "${1}abc"`,
		`rules[8].updates.identifier: refers to capture "nope", which the selector does not have`,
		`rules[9].updates.identifier: empty, so BuildKit replaces each match of "files.example.com"`,
	}
	got := Lint(p)
	if len(got) != len(want) {
		t.Errorf("got %d warnings, want %d:", len(got), len(want))
		for _, w := range got {
			t.Log(w)
		}
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if !strings.HasPrefix(got[i].String(), want[i]) {
			t.Errorf("warning %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
	if ws := Lint(nil); ws != nil {
		t.Errorf("Lint(nil) = %v", ws)
	}
}

func TestWildcardIdentityKeepsSource(t *testing.T) {
	for _, pat := range []string{"https://files.example.com/*", "a*b*c", "$*$", "*"} {
		for _, src := range []string{"https://files.example.com/x.tgz", "a1b2c", "$x$", "anything"} {
			keep := convert(Wildcard, pat, wildcardIdentity(pat), map[string]string{"k": "v"})
			res, err := Evaluate(&Policy{Rules: []Rule{keep}}, Source{Identifier: src})
			if err != nil || res.Identifier != src {
				t.Errorf("pattern %q, source %q: got %q, %v", pat, src, res.Identifier, err)
			}
		}
	}
}
