package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxWildcards is the most "*" a WILDCARD selector may have; Parse refuses
// a selector with more, and Evaluate fails on one. BuildKit has no such
// bound: it turns each "*" into a "(.*)" group of a Go regexp, whose
// matching time grows with the number of groups times the length of the
// pattern times the length of the identifier, so a selector of 800 "*"
// takes seconds to minutes for each source BuildKit tries it on. Real
// selectors have a few "*" (one per path element, tag or digest at most);
// 32 leaves ample room. Every policy this limit admits is evaluated
// exactly as BuildKit does.
const MaxWildcards = 32

// ErrTooManyWildcards is matched (errors.Is) by the errors for a WILDCARD
// selector with more than MaxWildcards "*".
var ErrTooManyWildcards = fmt.Errorf("more than %d \"*\"", MaxWildcards)

// checkWildcards returns an error when pattern has more "*" than allowed.
func checkWildcards(pattern string) error {
	if n := strings.Count(pattern, "*"); n > MaxWildcards {
		return fmt.Errorf("%d \"*\": %w (each one costs BuildKit a regexp group on every source)", n, ErrTooManyWildcards)
	}
	return nil
}

// compileWildcard turns a wildcard pattern into the anchored regexp BuildKit
// uses, in which each "*" is a capture group: ^s0(.*)s1(.*)...sk$.
func compileWildcard(w string) (*regexp.Regexp, error) {
	if strings.Contains(w, "**") {
		return nil, errors.New(`"**" is not allowed`)
	}
	if err := checkWildcards(w); err != nil {
		return nil, err
	}
	parts := strings.Split(w, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.Compile("^" + strings.Join(parts, "(.*)") + "$")
}

// wildcard matches a WILDCARD selector without backtracking and without
// Go's regexp engine, whose cost grows with the product of the pattern's
// length, its number of groups and the identifier's length. It finds the
// match and the groups the regexp ^s0(.*)s1(.*)...sk$ finds: the regexp
// reads the identifier one rune at a time (an invalid UTF-8 byte is the
// rune U+FFFD), "." matches any rune but "\n", and the groups are
// leftmost-first: the first as long as a match allows, then the second, and
// so on. Time and memory are O(k·n + m) for k "*", an identifier of n runes
// and a pattern of m.
type wildcard struct {
	re   *regexp.Regexp // the regexp, for its compile errors and ExpandString
	segs [][]rune       // s0 ... sk
	next [][]int        // the KMP failure function of each segment
}

func newWildcard(w string) (*wildcard, error) {
	re, err := compileWildcard(w)
	if err != nil {
		return nil, err
	}
	wc := &wildcard{re: re}
	for _, s := range strings.Split(w, "*") {
		seg := []rune(s) // valid UTF-8: regexp.Compile refuses anything else
		wc.segs = append(wc.segs, seg)
		wc.next = append(wc.next, failure(seg))
	}
	return wc, nil
}

// failure is the Knuth-Morris-Pratt failure function of p: f[i] is the
// length of the longest proper border of p[:i+1].
func failure(p []rune) []int {
	f := make([]int, len(p))
	for i, k := 1, 0; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = f[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		f[i] = k
	}
	return f
}

// decodeRunes splits s into runes as Go's regexp reads it, and returns them
// with the byte offset of each (and len(s) at the end).
func decodeRunes(s string) ([]rune, []int) {
	rs := make([]rune, 0, len(s))
	pos := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		rs = append(rs, r)
		pos = append(pos, i)
		i += w
	}
	return rs, append(pos, len(s))
}

// hasAt reports whether seg occurs in rs at rune index j.
func hasAt(rs []rune, j int, seg []rune) bool {
	if j < 0 || j+len(seg) > len(rs) {
		return false
	}
	for i, r := range seg {
		if rs[j+i] != r {
			return false
		}
	}
	return true
}

// match returns what regexp.FindStringSubmatchIndex returns for the
// wildcard's regexp: nil, or the byte offsets of the match (all of s) and of
// each group.
func (wc *wildcard) match(s string) []int {
	rs, pos := decodeRunes(s)
	n := len(rs)
	k := len(wc.segs) - 1
	first, last := wc.segs[0], wc.segs[k]
	if !hasAt(rs, 0, first) {
		return nil
	}
	if k == 0 {
		if len(first) != n {
			return nil
		}
		return []int{0, len(s)}
	}
	z := n - len(last) // where the last segment must start
	if z < len(first) || !hasAt(rs, z, last) {
		return nil
	}
	// nl[x] is the index of the first "\n" at or after x, or n: a group
	// [x, y) is possible when y <= nl[x].
	nl := make([]int, n+1)
	nl[n] = n
	for x := n - 1; x >= 0; x-- {
		if rs[x] == '\n' {
			nl[x] = x
		} else {
			nl[x] = nl[x+1]
		}
	}
	// ok[i][j]: segment i can start at rune j and the rest of the pattern
	// match from there to the end. nextOK[x] is the smallest such j >= x
	// for the segment after the current one (n+1 when there is none).
	ok := make([][]bool, k+1)
	ok[k] = make([]bool, n+1)
	ok[k][z] = true
	nextOK := make([]int, n+2)
	setNext := func(row []bool) {
		nextOK[n+1] = n + 1
		for x := n; x >= 0; x-- {
			if row[x] {
				nextOK[x] = x
			} else {
				nextOK[x] = nextOK[x+1]
			}
		}
	}
	for i := k - 1; i >= 1; i-- {
		setNext(ok[i+1])
		row := make([]bool, n+1)
		seg, f := wc.segs[i], wc.next[i]
		// Knuth-Morris-Pratt: every occurrence of seg, at j = end-len(seg).
		for x, q := 0, 0; x < n; x++ {
			for q > 0 && rs[x] != seg[q] {
				q = f[q-1]
			}
			if rs[x] == seg[q] {
				q++
			}
			if q == len(seg) {
				j, e := x+1-len(seg), x+1
				row[j] = nextOK[e] <= nl[e]
				q = f[q-1]
			}
		}
		ok[i] = row
	}
	setNext(ok[1])
	x := len(first)
	if nextOK[x] > nl[x] {
		return nil
	}
	// Each group as long as possible, from the first.
	m := make([]int, 0, 2*(k+1))
	m = append(m, 0, len(s))
	for i := 1; i <= k; i++ {
		j := nl[x]
		for !ok[i][j] {
			j--
		}
		m = append(m, pos[x], pos[j])
		x = j + len(wc.segs[i])
	}
	return m
}

// expand is regexp.ExpandString for a match of the wildcard.
func (wc *wildcard) expand(template, s string, m []int) string {
	return string(wc.re.ExpandString(nil, template, s, m))
}
