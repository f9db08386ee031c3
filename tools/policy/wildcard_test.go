package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sameAsRegexp checks the wildcard matcher against the regexp BuildKit
// uses for pattern, on s.
func sameAsRegexp(t *testing.T, pattern, s string) {
	t.Helper()
	re, reErr := compileWildcard(pattern)
	wc, wcErr := newWildcard(pattern)
	if (reErr == nil) != (wcErr == nil) {
		t.Fatalf("pattern %q: regexp error %v, wildcard error %v", pattern, reErr, wcErr)
	}
	if reErr != nil {
		return
	}
	want := re.FindStringSubmatchIndex(s)
	got := wc.match(s)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pattern %q on %q: wildcard gives %v, regexp %v", pattern, s, got, want)
	}
}

// TestWildcardMatchesRegexp compares the matcher with Go's regexp on random
// patterns and identifiers over an alphabet with the cases that differ
// from plain byte comparison: "\n", which "*" does not match, invalid UTF-8,
// which the regexp reads as U+FFFD, U+FFFD itself and multi-byte runes.
func TestWildcardMatchesRegexp(t *testing.T) {
	alphabet := []string{"a", "a", "b", "ab", "\n", "\xff", "\xe2\x82", "\uFFFD", "é", "/", ":"}
	r := rand.New(rand.NewPCG(9, 10))
	gen := func(n int, star bool) string {
		var b strings.Builder
		for range n {
			if star && r.IntN(4) == 0 {
				b.WriteString("*")
				continue
			}
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 100_000; i++ {
		pattern := gen(r.IntN(7), true)
		s := gen(r.IntN(10), false)
		if r.IntN(3) == 0 { // an identifier made from the pattern
			s = strings.ReplaceAll(pattern, "*", gen(r.IntN(3), false))
		}
		sameAsRegexp(t, pattern, s)
	}
	for _, tc := range [][2]string{
		{"docker-image://docker.io/library/*:*", "docker-image://docker.io/library/alpine:3.20"},
		{"*:*", "a:b:c"}, {"*a*", "aaaa"}, {"a*", "a\nb"}, {"*", "\n"}, {"", ""}, {"*", ""},
		{"ab*ba", "aba"}, {"a*a", "a"}, {"\uFFFD*", "\xff\xfe"}, {"*\uFFFD", "\xe2\x82"},
		{"https://*/a.tgz", "https://files.example.com/a.tgz"},
	} {
		sameAsRegexp(t, tc[0], tc[1])
	}
}

// FuzzWildcard is TestWildcardMatchesRegexp for arbitrary input.
func FuzzWildcard(f *testing.F) {
	f.Add("docker-image://docker.io/library/*:*", "docker-image://docker.io/library/alpine:3.20")
	f.Add("*a*b*", "aabab\nb")
	f.Add("\uFFFD*x", "\xffyx")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if strings.Count(pattern, "*") > MaxWildcards || len(pattern) > 64 || len(s) > 256 {
			return // the regexp is too slow to compare with
		}
		sameAsRegexp(t, pattern, s)
	})
}

// TestWildcardLimit checks that a selector with more than MaxWildcards "*"
// is refused by Parse and by Evaluate, clearly and at once, and that one
// with MaxWildcards is evaluated quickly even on a long identifier. 800 "*"
// used to take 17 s; Go's regexp takes seconds per identifier for the
// selectors below.
func TestWildcardLimit(t *testing.T) {
	many := "docker-image://" + strings.Repeat("*a", 800)
	doc := fmt.Sprintf(`{"rules": [{"action": "DENY", "selector": {"identifier": %q}}]}`, many)
	_, err := Parse([]byte(doc))
	if want := `policy: rules[0].selector.identifier: WILDCARD pattern with 800 "*": more than 32 "*"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse: %v\nwant %s", err, want)
	}
	p := &Policy{Rules: []Rule{deny(Wildcard, many)}}
	if _, err := Evaluate(p, Source{Identifier: "docker-image://" + strings.Repeat("a", 1600)}); !errors.Is(err, ErrTooManyWildcards) {
		t.Errorf("Evaluate: %v", err)
	}
	// The same identifier as a REGEX or EXACT selector is not a wildcard.
	for _, mt := range []string{"EXACT", "REGEX"} {
		if _, err := Parse([]byte(strings.Replace(doc, `"selector": {`, `"selector": {"match_type": "`+mt+`", `, 1))); err != nil {
			t.Errorf("Parse of %s: %v", mt, err)
		}
	}
	// MaxWildcards "*" between 60-rune segments, on a 64 KiB identifier
	// that matches (every group can end in many places), in 20 rules.
	seg := strings.Repeat("a", 60)
	at := "docker-image://" + strings.Repeat("*"+seg, MaxWildcards-1) + "*"
	id := "docker-image://" + strings.Repeat("a", MaxIdentifierLength-len("docker-image://"))
	p = &Policy{}
	for range 20 {
		p.Rules = append(p.Rules, deny(Wildcard, at), allow(Wildcard, at))
	}
	if _, err := Parse(must(p.MarshalJSON())); err != nil {
		t.Fatalf("Parse of %d \"*\": %v", MaxWildcards, err)
	}
	start := time.Now()
	res, err := Evaluate(p, Source{Identifier: id})
	if err != nil || res.Denied {
		t.Fatalf("Evaluate: %+v, %v", res, err)
	}
	t.Logf("40 rules of %d \"*\" on a %d-byte identifier: %v", MaxWildcards, len(id), time.Since(start))
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
