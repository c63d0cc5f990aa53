package conf

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FlowSection is the section of the four recovery-flow options.
const FlowSection = "taskflow_driver_recovery_flows"

// DefaultFlows returns Masakari's four default flows (positions are zero).
func DefaultFlows() map[FlowKind]FlowSpec {
	mk := func(k FlowKind, pre, main, post []string) FlowSpec {
		s := FlowSpec{Kind: k}
		for p, names := range [3][]string{pre, main, post} {
			for _, n := range names {
				s.Phases[p] = append(s.Phases[p], TaskRef{Name: n})
			}
		}
		return s
	}
	return map[FlowKind]FlowSpec{
		FlowHostAuto: mk(FlowHostAuto, []string{"disable_compute_service_task"},
			[]string{"prepare_HA_enabled_instances_task"}, []string{"evacuate_instances_task"}),
		FlowHostRH: mk(FlowHostRH, []string{"disable_compute_service_task"},
			[]string{"prepare_HA_enabled_instances_task", "evacuate_instances_task"}, nil),
		FlowInstance: mk(FlowInstance, []string{"stop_instance_task"},
			[]string{"start_instance_task"}, []string{"confirm_instance_active_task"}),
		FlowProcess: mk(FlowProcess, []string{"disable_compute_node_task"},
			[]string{"confirm_compute_node_disabled_task"}, nil),
	}
}

// flowKindOf returns the flow kind of a [taskflow_driver_recovery_flows] option.
func flowKindOf(option string) (FlowKind, bool) {
	for _, k := range FlowKinds {
		if k.Option() == option {
			return k, true
		}
	}
	return "", false
}

// Format renders the spec as an option value in the form Masakari's sample
// file uses: pre:['a', 'b'],main:['c'],post:[].
func (s FlowSpec) Format() string {
	var b strings.Builder
	for _, p := range Phases {
		if p > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.String())
		b.WriteString(":[")
		for i, t := range s.Phases[p] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('\'')
			b.WriteString(t.Name)
			b.WriteByte('\'')
		}
		b.WriteByte(']')
	}
	return b.String()
}

// flowParser reads one flow value. The grammar is strict: everything that
// oslo.config would read into something other than what the operator
// wrote is refused with the place and the fix.
//
//	value = pair { "," pair }
//	pair  = key ":" list            key is pre, main or post, unquoted
//	list  = "[" [ name { "," name } ] "]"
//	name  = 'text' | "text" | text  (no , [ ] quotes or control characters)
//
// Whitespace, including line breaks, may appear between any two tokens.
type flowParser struct {
	v      valueText
	s      string
	i      int
	option string
	spec   FlowSpec
	errs   []error
	fixes  int // errors whose fix is mechanical (braces, quoted keys)
	seen   [3]Pos
	set    [3]bool
	cur    string // the key of the list being read
	// suggested phases were offered for an unknown key; they are not
	// reported missing as well.
	suggested [3]bool
}

// errSyntax stops the parse of a value after its first syntax error.
var errSyntax = errors.New("syntax")

func (p *flowParser) failAt(off int, format string, a ...any) {
	p.errs = append(p.errs, &Error{Pos: p.v.pos(off), Section: FlowSection, Key: p.option, Err: fmt.Errorf(format, a...)})
}

func (p *flowParser) stop(off int, format string, a ...any) error {
	p.failAt(off, format, a...)
	return errSyntax
}

func (p *flowParser) eof() bool { return p.i >= len(p.s) }

func (p *flowParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *flowParser) skipWS() int {
	n := 0
	for !p.eof() && isSpace(p.s[p.i]) {
		p.i++
		n++
	}
	return n
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c == '-' || c >= '0' && c <= '9' }

// token shows the text at off for an error message: up to the end of its
// line, at most 20 characters.
func (p *flowParser) token(off int) string {
	if off >= len(p.s) {
		return "the end of the value"
	}
	t := p.s[off:]
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = t[:i]
	}
	if utf8.RuneCountInString(t) > 20 {
		r := []rune(t)
		t = string(r[:20]) + "..."
	}
	return fmt.Sprintf("%q", t)
}

// keyAhead reports whether a key and its colon start at off (an unquoted or
// quoted word followed by ":"), returning the key as written with its colon.
func (p *flowParser) keyAhead(off int) (string, bool) {
	j := off
	if j < len(p.s) && (p.s[j] == '\'' || p.s[j] == '"') {
		q := p.s[j]
		k := strings.IndexByte(p.s[j+1:], q)
		if k < 0 {
			return "", false
		}
		j += k + 2
	} else {
		for j < len(p.s) && isIdent(p.s[j]) {
			j++
		}
		if j == off || !isIdentStart(p.s[off]) {
			return "", false
		}
	}
	word := p.s[off:j]
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] == ':' {
		return word + ":", true
	}
	return "", false
}

// parseFlowValue parses the value of option (a [taskflow_driver_recovery_flows]
// key) into a spec. keyPos is where the option is set; it is used for
// problems of the value as a whole.
func parseFlowValue(kind FlowKind, keyPos Pos, v valueText) (FlowSpec, []error) {
	p := &flowParser{v: v, s: v.s, option: kind.Option(), spec: FlowSpec{Kind: kind, Pos: keyPos}}
	err := p.value()
	if err == nil {
		var missing []string
		for _, ph := range Phases {
			if !p.set[ph] && !p.suggested[ph] {
				missing = append(missing, fmt.Sprintf("%q", ph.String()))
			}
		}
		if len(missing) > 0 {
			what := strings.Join(missing, " and ")
			if len(missing) == 3 {
				what = `"pre", "main" and "post"`
			}
			p.errs = append(p.errs, &Error{Pos: keyPos, Section: FlowSection, Key: p.option,
				Err: fmt.Errorf("missing %s: every flow needs pre, main and post (an empty phase is written post:[]), e.g. %s", what, DefaultFlows()[kind].Format())})
		}
		if p.fixes > 0 && len(p.errs) == p.fixes {
			// Only mechanical mistakes: show the value as it should be.
			e := p.errs[0].(*Error)
			e.Err = fmt.Errorf("%w (the whole value, corrected: %s)", e.Err, p.spec.Format())
		}
	}
	if len(p.errs) > 0 {
		return FlowSpec{}, p.errs
	}
	return p.spec, nil
}

func (p *flowParser) value() error {
	p.skipWS()
	if p.eof() {
		p.errs = append(p.errs, &Error{Pos: p.spec.Pos, Section: FlowSection, Key: p.option,
			Err: fmt.Errorf("empty value (Masakari would fail every notification of this flow); write pre:[...],main:[...],post:[...], e.g. %s", DefaultFlows()[p.spec.Kind].Format())})
		return errSyntax
	}
	brace := -1
	if p.peek() == '{' {
		brace = p.i
		p.failAt(p.i, `remove the braces: Masakari cannot parse the "{...}" form shown in the upstream custom-task documentation; the value is pre:[...],main:[...],post:[...] without them`)
		p.fixes++
		p.i++
	}
	lastList, lastKey := -1, ""
	for {
		p.skipWS()
		if p.eof() {
			if brace >= 0 {
				return p.stop(brace, `"{" is never closed`)
			}
			return nil
		}
		if brace >= 0 && p.peek() == '}' {
			p.i++
			p.skipWS()
			if !p.eof() {
				return p.stop(p.i, "unexpected %s after the closing \"}\"", p.token(p.i))
			}
			return nil
		}
		if err := p.pair(); err != nil {
			return err
		}
		lastList, lastKey = p.i-1, p.cur
		p.skipWS()
		if p.eof() {
			continue
		}
		switch c := p.peek(); {
		case c == ',':
			comma := p.i
			p.i++
			p.skipWS()
			if p.eof() || (brace >= 0 && p.peek() == '}') {
				return p.stop(comma, `trailing comma after the last list (Masakari refuses the value: "Value should be NAME:VALUE pairs separated by ','"); remove it`)
			}
		case brace >= 0 && c == '}':
		case c == '#' || c == ';':
			return p.stop(p.i, "unexpected %s after the %q list: comments must start at column 0 on a line of their own (oslo.config keeps an inline comment in the value)", p.token(p.i), lastKey)
		default:
			if k, ok := p.keyAhead(p.i); ok {
				at := p.v.pos(lastList)
				return p.stop(p.i, `expected "," before %q (the %q list closed at line %d, column %d); did you forget a comma after "]"?`, k, lastKey, at.Line, at.Col)
			}
			return p.stop(p.i, `unexpected %s after the %q list; expected "," and the next list, or the end of the value`, p.token(p.i), lastKey)
		}
	}
}

var phaseNames = []string{"pre", "main", "post"}

func (p *flowParser) pair() error {
	start := p.i
	var key string
	switch c := p.peek(); {
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.s[p.i+1:], c)
		if nl := strings.IndexByte(p.s[p.i+1:], '\n'); end < 0 || (nl >= 0 && nl < end) {
			return p.stop(p.i, "unclosed quote %c", c)
		}
		key = p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		p.failAt(start, "key %s must not be quoted (Masakari would look for a phase named %s, quotes included, and fail); write %s", p.s[start:p.i], p.s[start:p.i], key)
		p.fixes++
	case isIdentStart(c):
		for !p.eof() && isIdent(p.peek()) {
			p.i++
		}
		key = p.s[start:p.i]
	default:
		return p.stop(p.i, "expected pre, main or post, found %s", p.token(p.i))
	}
	p.skipWS()
	if p.peek() != ':' {
		return p.stop(p.i, `expected ":" after %q, found %s`, key, p.token(p.i))
	}
	p.i++
	p.skipWS()
	ph := -1
	for i, n := range phaseNames {
		if key == n {
			ph = i
		}
	}
	keyPos := p.v.pos(start)
	switch {
	case ph < 0:
		msg := fmt.Sprintf("unknown key %q; the keys are pre, main and post", key)
		if c, ok := closest(key, phaseNames); ok || strings.EqualFold(key, "pre") {
			if !ok {
				c = "pre"
			}
			msg = fmt.Sprintf("unknown key %q; did you mean %q?", key, c)
			for i, n := range phaseNames {
				if n == c {
					p.suggested[i] = true
				}
			}
		}
		p.failAt(start, "%s", msg)
	case p.set[ph]:
		first := p.seen[ph]
		p.failAt(start, "duplicate key %q (first at line %d, column %d)", key, first.Line, first.Col)
		ph = -1
	default:
		p.set[ph], p.seen[ph] = true, keyPos
	}
	p.cur = key
	names, err := p.list(key)
	if err != nil {
		return err
	}
	if ph >= 0 {
		p.spec.Phases[ph] = names
	}
	return nil
}

// list reads "[ name, ... ]" after key.
func (p *flowParser) list(key string) ([]TaskRef, error) {
	if p.peek() != '[' {
		if _, ok := p.keyAhead(p.i); ok || p.eof() || p.peek() == ',' {
			return nil, p.stop(p.i, "expected \"[\" to start the %q list, found %s (an empty phase is written %s:[])", key, p.token(p.i), key)
		}
		return nil, p.stop(p.i, "expected \"[\" to start the %q list, found %s (names go in a list: %s:['name'])", key, p.token(p.i), key)
	}
	open := p.i
	notClosed := func(before string) error {
		if before != "" {
			return p.stop(open, "the %q list is not closed before %s; did you forget \"]\"?", key, before)
		}
		return p.stop(open, "the %q list is never closed; did you forget \"]\"?", key)
	}
	p.i++
	ws := p.skipWS()
	refs := []TaskRef{}
	if p.peek() == ']' {
		if ws > 0 {
			p.failAt(open, "empty task name: %q has a space inside, which Masakari reads as one task named \"\"; write %s:[] for an empty phase", p.s[open:p.i+1], key)
			p.fixes++
		}
		p.i++
		return refs, nil
	}
	for {
		p.skipWS()
		if p.eof() {
			return nil, notClosed("")
		}
		ref, err := p.name(key, notClosed)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
		p.skipWS()
		switch c := p.peek(); {
		case p.eof():
			return nil, notClosed("")
		case c == ']':
			p.i++
			return refs, nil
		case c == ',':
			comma := p.i
			p.i++
			p.skipWS()
			if p.peek() == ']' {
				p.failAt(comma, "trailing comma after the last task name %q (Masakari reads one more task named \"\"); remove it", ref.Name)
				p.fixes++
				p.i++
				return refs, nil
			}
		default:
			if k, ok := p.keyAhead(p.i); ok {
				return nil, notClosed(fmt.Sprintf("%q", k))
			}
			return nil, p.stop(p.i, "expected \",\" or \"]\" after %q, found %s; did you forget a comma?", ref.Name, p.token(p.i))
		}
	}
}

// name reads one task name.
func (p *flowParser) name(key string, notClosed func(string) error) (TaskRef, error) {
	start := p.i
	c := p.peek()
	var name string
	var at int
	if c == '\'' || c == '"' {
		rest := p.s[p.i+1:]
		end := strings.IndexByte(rest, c)
		nl := strings.IndexByte(rest, '\n')
		if end < 0 || (nl >= 0 && nl < end) {
			return TaskRef{}, p.stop(start, "unclosed quote %c (a task name ends on the line it starts)", c)
		}
		name, at = rest[:end], p.i+1
		p.i += end + 2
		if strings.ContainsAny(name, "[],") {
			closeAt := p.v.pos(p.i - 1)
			return TaskRef{}, p.stop(start, "the quote %c opened here closes only at line %d, column %d, making the task name %q; did you forget a closing %c? (task names cannot contain \",\" \"[\" or \"]\")", c, closeAt.Line, closeAt.Col, name, c)
		}
		if name == "" {
			return TaskRef{}, p.stop(start, "empty task name %s (Masakari would skip it with a warning); remove it", p.s[start:p.i])
		}
	} else {
		for !p.eof() && !strings.ContainsRune(",[]{}'\":\n", rune(p.peek())) {
			p.i++
		}
		name = strings.TrimRightFunc(p.s[start:p.i], unicode.IsSpace)
		at = start
		if name == "" {
			switch p.peek() {
			case ',':
				return TaskRef{}, p.stop(start, "empty task name before \",\" (two commas in a row?)")
			default:
				return TaskRef{}, p.stop(start, "unexpected %s in the %q list; expected a task name", p.token(start), key)
			}
		}
		if p.peek() == ':' {
			if k, ok := p.keyAhead(start); ok {
				return TaskRef{}, notClosed(fmt.Sprintf("%q", k))
			}
		}
	}
	if err := checkTaskName(name); err != nil {
		p.failAt(at, "task name %q %v", name, err)
	}
	return TaskRef{Name: name, Pos: p.v.pos(at)}, nil
}

// checkTaskName refuses names that no task can have and that could not be
// written back: quotes, brackets, commas, control characters, spaces around.
func checkTaskName(name string) error {
	if !utf8.ValidString(name) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return errors.New("contains a control character")
		case strings.ContainsRune(`'"[],`, r):
			return fmt.Errorf("contains %q", string(r))
		}
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return errors.New("has spaces around it")
	}
	return nil
}
