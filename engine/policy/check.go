package policy

import (
	"errors"
	"fmt"
	"strings"
)

// check is one parsed check string.
type check interface {
	eval(p *Policy, target map[string]string, c *caller) bool
	// refs appends the rules it names.
	refs([]string) []string
}

type constCheck bool

func (k constCheck) eval(*Policy, map[string]string, *caller) bool { return bool(k) }
func (constCheck) refs(r []string) []string                        { return r }

type ruleCheck string

func (k ruleCheck) eval(p *Policy, t map[string]string, c *caller) bool {
	r, ok := p.rules[string(k)]
	return ok && r.eval(p, t, c)
}
func (k ruleCheck) refs(r []string) []string { return append(r, string(k)) }

type roleCheck string

func (k roleCheck) eval(_ *Policy, t map[string]string, c *caller) bool {
	want, ok := substitute(string(k), t)
	if !ok {
		return false
	}
	for _, r := range c.roles {
		if strings.EqualFold(r, want) {
			return true
		}
	}
	return false
}
func (roleCheck) refs(r []string) []string { return r }

// genericCheck compares the caller's kind (or a literal) with match.
type genericCheck struct{ kind, match string }

func (k genericCheck) eval(_ *Policy, t map[string]string, c *caller) bool {
	want, ok := substitute(k.match, t)
	if !ok {
		return false
	}
	if lit, isLit := literal(k.kind); isLit {
		return want == lit
	}
	have, ok := c.values[k.kind]
	return ok && want == have
}
func (genericCheck) refs(r []string) []string { return r }

type notCheck struct{ c check }

func (k notCheck) eval(p *Policy, t map[string]string, c *caller) bool { return !k.c.eval(p, t, c) }
func (k notCheck) refs(r []string) []string                            { return k.c.refs(r) }

type andCheck []check

func (k andCheck) eval(p *Policy, t map[string]string, c *caller) bool {
	for _, x := range k {
		if !x.eval(p, t, c) {
			return false
		}
	}
	return true
}
func (k andCheck) refs(r []string) []string {
	for _, x := range k {
		r = x.refs(r)
	}
	return r
}

type orCheck []check

func (k orCheck) eval(p *Policy, t map[string]string, c *caller) bool {
	for _, x := range k {
		if x.eval(p, t, c) {
			return true
		}
	}
	return false
}
func (k orCheck) refs(r []string) []string {
	for _, x := range k {
		r = x.refs(r)
	}
	return r
}

// substitute expands %(name)s from the target (and %% to %); a name the
// target lacks fails the check, as in oslo.policy.
func substitute(s string, target map[string]string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "%%"):
			b.WriteByte('%')
			s = s[2:]
		case strings.HasPrefix(s, "%("):
			end := strings.Index(s, ")s")
			if end < 0 {
				return "", false
			}
			v, ok := target[s[2:end]]
			if !ok {
				return "", false
			}
			b.WriteString(v)
			s = s[end+2:]
		default:
			b.WriteByte('%')
			s = s[1:]
		}
	}
}

// literal reads the left side of a generic check written as a constant
// (True, False, a number or a quoted string), as Python would print it.
func literal(kind string) (string, bool) {
	switch {
	case kind == "True" || kind == "False":
		return kind, true
	case len(kind) >= 2 && (kind[0] == '\'' || kind[0] == '"') && kind[len(kind)-1] == kind[0]:
		return kind[1 : len(kind)-1], true
	case kind != "" && strings.Trim(kind, "0123456789") == "":
		return kind, true
	}
	return "", false
}

// token is one lexical element of a check string.
type token struct {
	kind string // "(", ")", "and", "or", "not", "check"
	text string
}

func tokenize(s string) []token {
	var out []token
	for _, f := range strings.Fields(s) {
		for strings.HasPrefix(f, "(") {
			out = append(out, token{kind: "(", text: "("})
			f = f[1:]
		}
		trail := 0
		for strings.HasSuffix(f, ")") {
			trail++
			f = f[:len(f)-1]
		}
		if f != "" {
			switch l := strings.ToLower(f); l {
			case "and", "or", "not":
				out = append(out, token{kind: l, text: f})
			default:
				out = append(out, token{kind: "check", text: f})
			}
		}
		for range trail {
			out = append(out, token{kind: ")", text: ")"})
		}
	}
	return out
}

// parse reads a check string; "" allows everyone.
func parse(s string) (check, error) {
	toks := tokenize(s)
	if len(toks) == 0 {
		return constCheck(true), nil
	}
	ps := &parser{toks: toks}
	c, err := ps.or()
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	if ps.pos < len(ps.toks) {
		return nil, fmt.Errorf("%q: unexpected %q", s, ps.toks[ps.pos].text)
	}
	return c, nil
}

type parser struct {
	toks []token
	pos  int
}

func (ps *parser) peek() string {
	if ps.pos < len(ps.toks) {
		return ps.toks[ps.pos].kind
	}
	return ""
}

func (ps *parser) or() (check, error) {
	cs, err := ps.joined("or", ps.and)
	if err != nil || len(cs) == 1 {
		return first(cs), err
	}
	return orCheck(cs), nil
}

func (ps *parser) and() (check, error) {
	cs, err := ps.joined("and", ps.not)
	if err != nil || len(cs) == 1 {
		return first(cs), err
	}
	return andCheck(cs), nil
}

// joined parses operands of next separated by the operator op.
func (ps *parser) joined(op string, next func() (check, error)) ([]check, error) {
	c, err := next()
	if err != nil {
		return nil, err
	}
	out := []check{c}
	for ps.peek() == op {
		ps.pos++
		c, err := next()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func first(cs []check) check {
	if len(cs) == 0 {
		return nil
	}
	return cs[0]
}

func (ps *parser) not() (check, error) {
	if ps.peek() == "not" {
		ps.pos++
		c, err := ps.not()
		if err != nil {
			return nil, err
		}
		return notCheck{c}, nil
	}
	return ps.atom()
}

func (ps *parser) atom() (check, error) {
	switch ps.peek() {
	case "":
		return nil, errors.New("the check string ends where a check is expected")
	case "(":
		ps.pos++
		c, err := ps.or()
		if err != nil {
			return nil, err
		}
		if ps.peek() != ")" {
			return nil, errors.New(`missing ")"`)
		}
		ps.pos++
		return c, nil
	case "check":
		t := ps.toks[ps.pos]
		ps.pos++
		return parseCheck(t.text)
	default:
		return nil, fmt.Errorf("unexpected %q where a check is expected", ps.toks[ps.pos].text)
	}
}

// parseCheck reads one check: @, !, rule:, role: or key:value.
func parseCheck(s string) (check, error) {
	switch s {
	case "@":
		return constCheck(true), nil
	case "!":
		return constCheck(false), nil
	}
	kind, match, ok := strings.Cut(s, ":")
	if !ok || kind == "" {
		return nil, fmt.Errorf("check %q: want @, !, rule:NAME, role:NAME or KEY:VALUE", s)
	}
	switch kind {
	case "rule":
		return ruleCheck(match), nil
	case "role":
		return roleCheck(match), nil
	case "http", "https":
		return nil, fmt.Errorf("check %q: remote http checks are not supported", s)
	}
	return genericCheck{kind: kind, match: match}, nil
}
