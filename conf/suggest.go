package conf

import (
	"fmt"
	"slices"
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

// Near says whether candidate, at edit distance d from name, is near enough
// to be suggested.
type Near func(name, candidate string, d int) bool

// Typo is near for a likely typo of an option or phase name: at most 2
// edits, 1 for names under 8 characters.
func Typo(_, candidate string, d int) bool {
	if len(candidate) < 8 {
		return d <= 1
	}
	return d <= 2
}

// Loose is near for a task name: about a third of the name's length in edits,
// or the candidate contains a name of 4 characters or more.
func Loose(name, candidate string, d int) bool {
	return d <= len(name)/3+2 || len(name) >= 4 && strings.Contains(candidate, name)
}

// Closest returns up to n candidates that near accepts, nearest first (ties in
// the candidates' order). Every "did you mean" of kaifuku goes through it.
func Closest(name string, candidates []string, n int, near Near) []string {
	type scored struct {
		s string
		d int
	}
	var out []scored
	for _, c := range candidates {
		if d := Distance(name, c); near(name, c, d) {
			out = append(out, scored{c, d})
		}
	}
	slices.SortStableFunc(out, func(a, b scored) int { return a.d - b.d })
	var names []string
	for i := 0; i < len(out) && i < n; i++ {
		names = append(names, out[i].s)
	}
	return names
}

// closest returns the nearest candidate to s that is a likely typo.
func closest(s string, candidates []string) (string, bool) {
	if c := Closest(s, candidates, 1, Typo); len(c) > 0 {
		return c[0], true
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
