package pattern

import (
	"errors"
	"strings"
	"testing"
)

func TestMatchAt(t *testing.T) {
	cases := []struct {
		src, pat string
		s, end   int
		caps     []Capture
	}{
		{"hello", "l+", 2, 4, []Capture{{Start: 2, End: 4}}},
		{"key=val", "(%w+)=(%w+)", 0, 7, []Capture{{0, 3, false}, {4, 7, false}}},
		{"abc", "()b()", 1, 2, []Capture{{Start: 1, Position: true}, {Start: 2, Position: true}}},
		{"f(a(b))", "%b()", 1, 7, []Capture{{Start: 1, End: 7}}},
		{"xyz", "q", 0, -1, nil},
	}
	for _, c := range cases {
		m := New(c.src, c.pat, nil)
		end, err := m.MatchAt(c.s, 0)
		if err != nil || end != c.end {
			t.Errorf("%q ~ %q at %d: %d %v, want %d", c.src, c.pat, c.s, end, err, c.end)
			continue
		}
		if end < 0 {
			continue
		}
		caps, err := m.Captures(c.s, end)
		if err != nil || len(caps) != len(c.caps) {
			t.Errorf("%q ~ %q: captures %v %v", c.src, c.pat, caps, err)
			continue
		}
		for i := range caps {
			if caps[i] != c.caps[i] {
				t.Errorf("%q ~ %q: capture %d is %+v, want %+v", c.src, c.pat, i, caps[i], c.caps[i])
			}
		}
	}
}

// TestStepBudget: the check function stops a catastrophic backtrack.
func TestStepBudget(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	m := New(strings.Repeat("a", 40)+"b", strings.Repeat("a*", 40)+"c", func() error {
		calls++
		if calls == 100 {
			return stop
		}
		return nil
	})
	_, err := m.MatchAt(0, 0)
	if !errors.Is(err, stop) || calls != 100 {
		t.Fatalf("err %v after %d checks", err, calls)
	}
}

func TestErrors(t *testing.T) {
	for pat, want := range map[string]string{
		"%":                       "malformed pattern (ends with '%')",
		"[a":                      "malformed pattern (missing ']')",
		"a)":                      "invalid pattern capture",
		"%1":                      "invalid capture index",
		"%b":                      "unbalanced pattern",
		"%fx":                     "missing '[' after '%f' in pattern",
		strings.Repeat("(", 33):   "too many captures",
		strings.Repeat("a?", 300): "pattern too complex",
	} {
		_, err := New(strings.Repeat("a", 300), pat, nil).MatchAt(0, 0)
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", pat, err, want)
		}
	}
}
