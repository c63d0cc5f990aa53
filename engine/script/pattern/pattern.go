// Package pattern matches Lua 5.1 patterns (string.find, match, gmatch and
// gsub) with a step budget, so that a catastrophic pattern can be stopped.
//
// gopher-lua's own matcher backtracks without bound inside one Go call, which
// the VM's context check cannot interrupt. This matcher follows the reference
// implementation (lstrlib.c) and calls a check function every few thousand
// steps; when it returns an error the match stops with that error.
package pattern

import (
	"errors"
	"fmt"
)

const (
	maxCaptures  = 32
	maxDepth     = 200 // as Lua 5.2's MAXCCALLS: "pattern too complex"
	checkEvery   = 1 << 12
	capUnfinish  = -1
	capPosition  = -2
	escapeMarker = '%'
)

// Error is a malformed pattern or a misuse of captures, as Lua reports it.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// ErrTooComplex is returned when the pattern nests deeper than the matcher
// allows.
var ErrTooComplex = errors.New("pattern too complex")

// Capture is one capture of a match: the substring [Start, End) or, for a
// position capture "()", the 1-based position Start+1.
type Capture struct {
	Start, End int
	Position   bool
}

// Matcher matches one pattern against one subject.
type Matcher struct {
	src, pat string
	level    int
	caps     [maxCaptures]struct{ init, len int }
	steps    int
	depth    int
	check    func() error
}

// New returns a matcher; check (may be nil) is called every few thousand
// steps and stops the match when it returns an error.
func New(src, pat string, check func() error) *Matcher {
	return &Matcher{src: src, pat: pat, check: check}
}

type abort struct{ err error }

// MatchAt matches the pattern starting at pattern offset p against the
// subject at s. It returns the end of the match, or -1.
func (m *Matcher) MatchAt(s, p int) (end int, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(abort)
			if !ok {
				panic(r)
			}
			end, err = -1, a.err
		}
	}()
	m.level, m.depth = 0, 0
	return m.match(s, p), nil
}

// Captures returns the captures of the last successful MatchAt that spanned
// [s, e); without explicit captures the whole match is the only one.
func (m *Matcher) Captures(s, e int) ([]Capture, error) {
	if m.level == 0 {
		return []Capture{{Start: s, End: e}}, nil
	}
	out := make([]Capture, m.level)
	for i := 0; i < m.level; i++ {
		c, err := m.capture(i, s, e)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// Level returns the number of explicit captures of the last match.
func (m *Matcher) Level() int { return m.level }

// Capture returns capture i (0-based) of the last match [s, e); i == 0
// without explicit captures is the whole match.
func (m *Matcher) Capture(i, s, e int) (Capture, error) { return m.capture(i, s, e) }

func (m *Matcher) capture(i, s, e int) (Capture, error) {
	if i >= m.level {
		if i == 0 {
			return Capture{Start: s, End: e}, nil
		}
		return Capture{}, &Error{Msg: "invalid capture index"}
	}
	c := m.caps[i]
	switch c.len {
	case capUnfinish:
		return Capture{}, &Error{Msg: "unfinished capture"}
	case capPosition:
		return Capture{Start: c.init, Position: true}, nil
	}
	return Capture{Start: c.init, End: c.init + c.len}, nil
}

func (m *Matcher) fail(format string, a ...any) {
	panic(abort{&Error{Msg: fmt.Sprintf(format, a...)}})
}

func (m *Matcher) step() {
	m.steps++
	if m.steps%checkEvery == 0 && m.check != nil {
		if err := m.check(); err != nil {
			panic(abort{err})
		}
	}
}

func (m *Matcher) patAt(p int) byte {
	if p < len(m.pat) {
		return m.pat[p]
	}
	return 0
}

func (m *Matcher) match(s, p int) int {
	m.depth++
	if m.depth > maxDepth {
		panic(abort{ErrTooComplex})
	}
	defer func() { m.depth-- }()
	for {
		m.step()
		if p >= len(m.pat) {
			return s
		}
		switch m.pat[p] {
		case '(':
			if m.patAt(p+1) == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinish)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(m.pat) {
				if s == len(m.src) {
					return s
				}
				return -1
			}
		case escapeMarker:
			switch next := m.patAt(p + 1); {
			case next == 'b':
				s = m.matchBalance(s, p+2)
				if s == -1 {
					return -1
				}
				p += 4
				continue
			case next == 'f':
				p += 2
				if m.patAt(p) != '[' {
					m.fail("missing '[' after '%%f' in pattern")
				}
				ep := m.classEnd(p)
				var prev, cur byte
				if s > 0 {
					prev = m.src[s-1]
				}
				if s < len(m.src) {
					cur = m.src[s]
				}
				if m.matchBracketClass(prev, p, ep-1) || !m.matchBracketClass(cur, p, ep-1) {
					return -1
				}
				p = ep
				continue
			case next >= '0' && next <= '9':
				s = m.matchCapture(s, int(next))
				if s == -1 {
					return -1
				}
				p += 2
				continue
			}
		}
		// default: a single character class, maybe with a quantifier
		ep := m.classEnd(p)
		ok := s < len(m.src) && m.singleMatch(m.src[s], p, ep)
		switch m.patAt(ep) {
		case '?':
			if ep < len(m.pat) {
				if ok {
					if res := m.match(s+1, ep+1); res != -1 {
						return res
					}
				}
				p = ep + 1
				continue
			}
		case '*':
			if ep < len(m.pat) {
				return m.maxExpand(s, p, ep)
			}
		case '+':
			if ep < len(m.pat) {
				if !ok {
					return -1
				}
				return m.maxExpand(s+1, p, ep)
			}
		case '-':
			if ep < len(m.pat) {
				return m.minExpand(s, p, ep)
			}
		}
		if !ok {
			return -1
		}
		s++
		p = ep
	}
}

func (m *Matcher) maxExpand(s, p, ep int) int {
	i := 0
	for s+i < len(m.src) && m.singleMatch(m.src[s+i], p, ep) {
		m.step()
		i++
	}
	for ; i >= 0; i-- {
		if res := m.match(s+i, ep+1); res != -1 {
			return res
		}
	}
	return -1
}

func (m *Matcher) minExpand(s, p, ep int) int {
	for {
		if res := m.match(s, ep+1); res != -1 {
			return res
		}
		if s < len(m.src) && m.singleMatch(m.src[s], p, ep) {
			s++
			continue
		}
		return -1
	}
}

func (m *Matcher) startCapture(s, p, what int) int {
	if m.level >= maxCaptures {
		m.fail("too many captures")
	}
	m.caps[m.level].init = s
	m.caps[m.level].len = what
	m.level++
	res := m.match(s, p)
	if res == -1 {
		m.level--
	}
	return res
}

func (m *Matcher) endCapture(s, p int) int {
	l := -1
	for i := m.level - 1; i >= 0; i-- {
		if m.caps[i].len == capUnfinish {
			l = i
			break
		}
	}
	if l < 0 {
		m.fail("invalid pattern capture")
	}
	m.caps[l].len = s - m.caps[l].init
	res := m.match(s, p)
	if res == -1 {
		m.caps[l].len = capUnfinish
	}
	return res
}

func (m *Matcher) matchCapture(s, c int) int {
	l := c - '1'
	if l < 0 || l >= m.level || m.caps[l].len == capUnfinish {
		m.fail("invalid capture index")
	}
	n := m.caps[l].len
	if n == capPosition {
		n = 0 // Lua compares against an empty string here too
	}
	init := m.caps[l].init
	if len(m.src)-s >= n && m.src[init:init+n] == m.src[s:s+n] {
		return s + n
	}
	return -1
}

func (m *Matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.fail("unbalanced pattern")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	b, e := m.pat[p], m.pat[p+1]
	cont := 1
	for s++; s < len(m.src); s++ {
		m.step()
		switch m.src[s] {
		case e:
			cont--
			if cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1
}

// classEnd returns the end of the single character class at p.
func (m *Matcher) classEnd(p int) int {
	c := m.pat[p]
	p++
	switch c {
	case escapeMarker:
		if p >= len(m.pat) {
			m.fail("malformed pattern (ends with '%%')")
		}
		return p + 1
	case '[':
		if m.patAt(p) == '^' {
			p++
		}
		for {
			if p >= len(m.pat) {
				m.fail("malformed pattern (missing ']')")
			}
			c := m.pat[p]
			p++
			if c == escapeMarker {
				p++
			}
			if p < len(m.pat) && m.pat[p] == ']' {
				return p + 1
			}
		}
	}
	return p
}

func (m *Matcher) singleMatch(c byte, p, ep int) bool {
	switch m.pat[p] {
	case '.':
		return true
	case escapeMarker:
		return matchClass(c, m.pat[p+1])
	case '[':
		return m.matchBracketClass(c, p, ep-1)
	}
	return m.pat[p] == c
}

// matchBracketClass matches c against the set [p, ec] where pat[p] is '['
// and pat[ec] is ']'.
func (m *Matcher) matchBracketClass(c byte, p, ec int) bool {
	sig := true
	if m.patAt(p+1) == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case m.pat[p] == escapeMarker:
			p++
			if matchClass(c, m.pat[p]) {
				return sig
			}
		case m.patAt(p+1) == '-' && p+2 < ec:
			p += 2
			if m.pat[p-2] <= c && c <= m.pat[p] {
				return sig
			}
		case m.pat[p] == c:
			return sig
		}
	}
	return !sig
}

func matchClass(c, cl byte) bool {
	var res bool
	lower := cl | 0x20
	switch lower {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 32 || c == 127
	case 'd':
		res = c >= '0' && c <= '9'
	case 'l':
		res = c >= 'a' && c <= 'z'
	case 'p':
		res = isPunct(c)
	case 's':
		res = c == ' ' || (c >= '\t' && c <= '\r')
	case 'u':
		res = c >= 'A' && c <= 'Z'
	case 'w':
		res = isAlpha(c) || (c >= '0' && c <= '9')
	case 'x':
		res = (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if cl >= 'A' && cl <= 'Z' {
		return !res
	}
	return res
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isPunct(c byte) bool {
	return c > 32 && c < 127 && !isAlpha(c) && !(c >= '0' && c <= '9')
}

// HasSpecials reports whether pat uses any magic character; a plain
// string.find can then use a substring search.
func HasSpecials(pat string) bool {
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '^', '$', '*', '+', '?', '.', '(', ')', '[', ']', '%', '-':
			return true
		}
	}
	return false
}
