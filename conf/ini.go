package conf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/ini.v1"
)

// This file reads one ini file the way oslo.config does. Two readers look at
// every file: gopkg.in/ini.v1 (with the options that keep values raw) and a
// line scan that follows oslo_config/iniparser.py and records where every
// section, key and value line is. ini.v1 knows no line numbers and differs
// from oslo in places, so the scan reports every structural problem with its
// line, and the values of both readers are compared: a value that ini.v1
// reads differently is an error rather than a silent surprise.

// segment is one line of a value: its text (stripped as oslo strips it) and
// the file position of its first character.
type segment struct {
	text string
	line int
	col  int // 1-based column of text[0] in the file's line
}

// valueText is a value after oslo's continuation joining, with a map back to
// the file: segs[i] starts at byte offset offs[i] of s.
type valueText struct {
	s    string
	file string
	segs []segment
	offs []int
}

// newValueText joins segments with "\n" as oslo does.
func newValueText(file string, segs []segment) valueText {
	v := valueText{file: file, segs: segs}
	var b strings.Builder
	for i, sg := range segs {
		if i > 0 {
			b.WriteByte('\n')
		}
		v.offs = append(v.offs, b.Len())
		b.WriteString(sg.text)
	}
	v.s = b.String()
	return v
}

// textOf makes a valueText of a bare string whose first line is line of
// file, every line starting at column 1 (tests and the fuzz target use it).
func textOf(file string, line int, s string) valueText {
	var segs []segment
	for i, l := range strings.Split(s, "\n") {
		segs = append(segs, segment{text: l, line: line + i, col: 1})
	}
	return newValueText(file, segs)
}

// pos returns the file position of byte offset off of v.s.
func (v valueText) pos(off int) Pos {
	if len(v.segs) == 0 {
		return Pos{File: v.file}
	}
	i := len(v.offs) - 1
	for i > 0 && v.offs[i] > off {
		i--
	}
	sg := v.segs[i]
	rel := off - v.offs[i]
	if rel > len(sg.text) {
		rel = len(sg.text)
	}
	if rel < 0 {
		rel = 0
	}
	return Pos{File: v.file, Line: sg.line, Col: sg.col + utf8.RuneCountInString(sg.text[:rel])}
}

// entry is one "key = value" of a file.
type entry struct {
	section string // as written
	key     string
	pos     Pos // the key's line
	val     valueText
}

// Value is the entry's value.
func (e entry) Value() string { return e.val.s }

// rawSection is one [section] header.
type rawSection struct {
	name string
	pos  Pos
}

// rawFile is everything one file holds, in file order.
type rawFile struct {
	name     string
	sections []rawSection
	entries  []entry
}

// scanner state while reading one file.
type iniScanner struct {
	file    string
	out     rawFile
	errs    []error
	section string
	inSect  bool
	refused bool // the last section header was refused; its keys are not reported
	cur     *entry
	segs    []segment
	ended   bool // a blank or comment line ended the previous value
}

func (s *iniScanner) fail(line int, format string, a ...any) {
	s.errs = append(s.errs, &Error{Pos: Pos{File: s.file, Line: line}, Err: fmt.Errorf(format, a...)})
}

func (s *iniScanner) flush() {
	if s.cur == nil {
		return
	}
	s.cur.val = joinValue(s.file, s.segs)
	s.out.entries = append(s.out.entries, *s.cur)
	s.cur, s.segs = nil, nil
}

// isSpace is Python's str.strip() set for ASCII.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func rstrip(s string) string {
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func lstripCount(s string) (string, int) {
	n := 0
	for n < len(s) && isSpace(s[n]) {
		n++
	}
	return s[n:], n
}

func quoted(s string) bool {
	return len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0]
}

// joinValue applies oslo's value rules to the lines of one value: the first
// line is stripped, continuation lines are lstripped, and they are joined
// with "\n". One pair of quotes around the first line is removed (oslo);
// kaifuku also removes one pair around a whole multi-line value.
func joinValue(file string, segs []segment) valueText {
	segs = append([]segment(nil), segs...)
	if len(segs) > 0 && quoted(segs[0].text) {
		segs[0].text = segs[0].text[1 : len(segs[0].text)-1]
		segs[0].col++
		return newValueText(file, segs)
	}
	// A value that starts on the line after its key has an empty first line.
	for len(segs) > 1 && segs[0].text == "" {
		segs = segs[1:]
	}
	if len(segs) > 1 {
		first, last := segs[0].text, segs[len(segs)-1].text
		if len(first) > 0 && (first[0] == '"' || first[0] == '\'') && len(last) > 0 && last[len(last)-1] == first[0] {
			segs[0].text = first[1:]
			segs[0].col++
			segs[len(segs)-1].text = last[:len(last)-1]
		}
	}
	return newValueText(file, segs)
}

// scanINI reads data as oslo_config.iniparser does, recording positions.
func scanINI(file string, data []byte) (rawFile, []error) {
	s := &iniScanner{file: file, out: rawFile{name: file}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		n := i + 1
		line := rstrip(raw)
		switch {
		case line == "":
			if s.cur != nil {
				s.flush()
				s.ended = true
			}
		case line[0] == ' ' || line[0] == '\t':
			if s.cur == nil {
				switch {
				case s.ended:
					s.fail(n, "unexpected continuation line: a blank or comment line ended the value above, so this indented line belongs to nothing (oslo.config refuses the file too); remove the blank or comment line, or the indentation")
				default:
					s.fail(n, "unexpected continuation line: an indented line continues the value of the key above it, and there is none; remove the indentation")
				}
				continue
			}
			text, ind := lstripCount(line)
			s.segs = append(s.segs, segment{text: text, line: n, col: utf8.RuneCountInString(line[:ind]) + 1})
		case line[0] == '[':
			s.flush()
			s.ended = false
			s.header(n, line)
		case line[0] == '#' || line[0] == ';':
			if s.cur != nil {
				s.flush()
				s.ended = true
			}
		default:
			s.flush()
			s.ended = false
			s.assignment(n, line)
		}
	}
	s.flush()
	return s.out, s.errs
}

func (s *iniScanner) header(n int, line string) {
	if line[len(line)-1] != ']' {
		s.fail(n, "section header must end with \"]\" (nothing may follow it on the line, not even a comment)")
		s.inSect, s.refused = false, true
		return
	}
	name := line[1 : len(line)-1]
	switch {
	case name == "":
		s.fail(n, "empty section name")
		s.inSect, s.refused = false, true
		return
	case strings.TrimSpace(name) != name:
		s.fail(n, "section name %q has spaces around it", name)
		s.inSect, s.refused = false, true
		return
	}
	s.section, s.inSect, s.refused = name, true, false
	s.out.sections = append(s.out.sections, rawSection{name: name, pos: Pos{File: s.file, Line: n}})
}

func (s *iniScanner) assignment(n int, line string) {
	i := strings.IndexAny(line, ":=")
	if i < 0 {
		s.fail(n, "expected \"key = value\": the line has no \"=\" or \":\"")
		return
	}
	key := strings.TrimSpace(line[:i])
	switch {
	case key == "":
		s.fail(n, "empty key name before %q", line[i:i+1])
		return
	case key[0] == '"' || key[0] == '`':
		s.fail(n, "key names cannot be quoted")
		return
	case s.refused:
		return // the header above was refused; its keys go with it
	case !s.inSect:
		s.fail(n, "key %q is outside any section; put it under [DEFAULT] or the section it belongs to", key)
		return
	}
	rest := line[i+1:]
	text, ind := lstripCount(rest)
	col := utf8.RuneCountInString(line[:i+1]) + utf8.RuneCountInString(rest[:ind]) + 1
	s.cur = &entry{section: s.section, key: key, pos: Pos{File: s.file, Line: n}}
	s.segs = []segment{{text: text, line: n, col: col}}
}

// iniOptions keeps ini.v1 from changing values: no inline comments (URLs
// with #), no backslash continuation, no quote handling (oslo's is applied
// afterwards), indented continuation lines, a read buffer that holds the
// whole file (long multi-line values otherwise break), and Key.Value() is
// used so %(x)s is never interpolated.
func iniOptions(size int) ini.LoadOptions {
	return ini.LoadOptions{
		AllowPythonMultilineValues: true,
		IgnoreInlineComment:        true,
		IgnoreContinuation:         true,
		PreserveSurroundedQuote:    true,
		KeyValueDelimiters:         "=:",
		ReaderBufferSize:           size + 4096,
	}
}

// readINI reads one file with both readers. The scan's entries are returned
// (they carry positions); ini.v1 must agree with them.
func readINI(file string, data []byte) (rawFile, []error) {
	rf, errs := scanINI(file, data)
	if len(errs) > 0 {
		// The scan names every structural problem with its line; ini.v1
		// would only repeat the first without one.
		return rf, errs
	}
	f, err := ini.LoadSources(iniOptions(len(data)), data)
	if err != nil {
		// Unreachable for files the scan accepts; ini.v1's text may quote a
		// line holding a secret, so it is not shown.
		return rf, []error{&Error{Pos: Pos{File: file}, Err: errors.New("the ini reader cannot read this file although its lines look right; please report it")}}
	}
	last := map[[2]string]int{}
	for i, e := range rf.entries {
		last[[2]string{e.section, e.key}] = i
	}
	for i, e := range rf.entries {
		if last[[2]string{e.section, e.key}] != i {
			continue // an earlier duplicate: the last one counts, as in oslo
		}
		sec, err := f.GetSection(e.section)
		if err != nil || !sec.HasKey(e.key) {
			errs = append(errs, &Error{Pos: e.pos, Section: e.section, Key: e.key, Err: errors.New("the ini reader does not see this key; write it without quotes or special characters")})
			continue
		}
		if got := normalizeINIValue(file, sec.Key(e.key).Value()); got != e.val.s {
			errs = append(errs, &Error{Pos: e.pos, Section: e.section, Key: e.key, Err: errors.New("the ini reader reads this value differently (a value that starts with a backtick or \"\"\" is a quoted block to it); put the value in '...' or \"...\" quotes")})
		}
	}
	return rf, errs
}

// normalizeINIValue applies oslo's rules to a value as ini.v1 returns it
// (continuation lines joined with "\n", their indentation kept).
func normalizeINIValue(file string, v string) string {
	lines := strings.Split(v, "\n")
	for len(lines) > 1 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1] // whitespace-only lines: oslo ends the value there
	}
	segs := make([]segment, len(lines))
	for i, l := range lines {
		segs[i] = segment{text: strings.TrimFunc(l, func(r rune) bool { return r < utf8.RuneSelf && isSpace(byte(r)) })}
	}
	return joinValue(file, segs).s
}
