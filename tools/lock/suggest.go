package lock

import (
	"fmt"
	"sort"
	"strings"
)

// Closest returns the candidates nearest to s by edit distance (at most
// three, nearest first, ties in input order), keeping only those within
// half of the longer string's length, so that unrelated names are not
// suggested.
func Closest(s string, candidates []string) []string {
	type scored struct {
		c    string
		dist int
		i    int
	}
	var near []scored
	for i, c := range candidates {
		d := editDistance(s, c)
		limit := len(s)
		if len(c) > limit {
			limit = len(c)
		}
		if d > 0 && d*2 <= limit {
			near = append(near, scored{c, d, i})
		}
	}
	sort.SliceStable(near, func(a, b int) bool { return near[a].dist < near[b].dist })
	var out []string
	for i := 0; i < len(near) && i < 3; i++ {
		out = append(out, near[i].c)
	}
	return out
}

// didYouMean is ` (did you mean "a" or "b"?)` for the closest candidates,
// or "".
func didYouMean(s string, candidates []string) string {
	near := Closest(s, candidates)
	if len(near) == 0 {
		return ""
	}
	q := make([]string, len(near))
	for i, n := range near {
		q[i] = fmt.Sprintf("%q", n)
	}
	return " (did you mean " + strings.Join(q, " or ") + "?)"
}

// editDistance is the Levenshtein distance between a and b, by bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
