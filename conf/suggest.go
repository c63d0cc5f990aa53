package conf

import (
	"fmt"
	"strings"
)

// Distance is the edit distance between a and b, ignoring case: insertions,
// deletions, substitutions and swaps of two neighbours each count one. Every
// "did you mean" of kaifuku (options, task names, fixture keys) uses it.
func Distance(a, b string) int {
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// closest returns the candidate nearest to s when it is near enough to be a
// likely typo: at most 2 edits (1 for names under 8 characters), or s is a
// prefix of it.
func closest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	for _, c := range candidates {
		d := Distance(s, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 {
		return "", false
	}
	limit := 2
	if len(best) < 8 {
		limit = 1
	}
	if bestD <= limit {
		return best, true
	}
	return "", false
}

// unknownKey is the message for a key that is not an option of the section.
func unknownKey(key string, known []string) error {
	if c, ok := closest(key, known); ok {
		return fmt.Errorf("unknown option; did you mean %q?", c)
	}
	return fmt.Errorf("unknown option; the options of this section are %s", strings.Join(known, ", "))
}
