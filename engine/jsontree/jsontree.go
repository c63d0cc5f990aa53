// Package jsontree decodes one JSON document into a tree that keeps the
// order of object keys and the byte offset of every key and value. The API
// uses it to quote a request body back the way Masakari prints it, the
// simulated cloud to point at the line and column of a problem in a fixture.
//
// It is strict where encoding/json is lenient: invalid UTF-8 and escapes of
// lone UTF-16 surrogates (which encoding/json turns into U+FFFD) are
// refused, as is anything after the value. Nesting is bounded by MaxDepth
// and every step is linear in the input, so any input is refused or
// accepted quickly.
package jsontree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays Parse accepts. The
// documents kaifuku reads nest a handful of levels.
const MaxDepth = 512

// Kind is the type of a JSON value.
type Kind byte

// The kinds of JSON values.
const (
	Null Kind = iota
	Object
	Array
	String
	Number
	Bool
)

// Node is one JSON value.
type Node struct {
	Kind Kind
	Off  int64 // offset of the value's first byte in the document
	Str  string
	Num  json.Number
	Bool bool
	// Keys are an object's keys in document order, KeyOffs their offsets;
	// Elems are the object's values (aligned with Keys) or an array's
	// elements.
	Keys    []string
	KeyOffs []int64
	Elems   []*Node
	index   map[string]int // key -> position in Keys
}

// Duplicates says what Parse does with a key that occurs twice in an object.
type Duplicates int

const (
	// LastWins keeps the value of the last occurrence in the place of the
	// first, as Python's json.loads (and so Masakari) does.
	LastWins Duplicates = iota
	// Refuse makes a duplicate key a syntax error at the second occurrence.
	Refuse
)

// SyntaxError is a problem at a byte offset of the document.
type SyntaxError struct {
	Off int64
	Msg string
}

func (e *SyntaxError) Error() string { return e.Msg }

// Parse decodes data, which must hold exactly one JSON value. Problems are
// reported in document order, each as a *SyntaxError; syntax errors carry
// encoding/json's wording.
func Parse(data []byte, dup Duplicates) (*Node, error) {
	p := &parser{data: data, dup: dup, end: len(data)}
	// encoding/json finds the first syntax error; the tree is then built
	// from the valid text before it, where depth, duplicates and escapes
	// are checked, so that whichever problem comes first is the one told.
	var se *json.SyntaxError
	if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &se) {
		switch {
		case strings.HasSuffix(se.Error(), "after top-level value"):
			// The value is complete; what follows is reported below.
		case se.Error() == "unexpected end of JSON input":
			p.pending = &SyntaxError{Off: int64(len(data)), Msg: "unexpected end of file"}
		default:
			// Offset counts the offending byte.
			p.pending = &SyntaxError{Off: se.Offset - 1, Msg: se.Error()}
			p.end = int(se.Offset - 1)
		}
	} else if err != nil {
		return nil, &SyntaxError{Msg: err.Error()}
	}
	if err := checkUTF8(data[:p.end]); err != nil {
		p.pending, p.end = err, int(err.Off)
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos >= p.end && p.pending != nil {
		return nil, p.pending
	}
	if p.pos < len(data) {
		what := "value"
		if n.Kind == Object {
			what = "object"
		}
		return nil, &SyntaxError{Off: int64(p.pos), Msg: "unexpected data after the JSON " + what}
	}
	return n, nil
}

// checkUTF8 refuses invalid UTF-8, which encoding/json would replace.
func checkUTF8(data []byte) *SyntaxError {
	if utf8.Valid(data) {
		return nil
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return &SyntaxError{Off: int64(i), Msg: fmt.Sprintf("invalid UTF-8 byte %#02x", data[i])}
		}
		i += size
	}
	return nil
}

// parser builds the tree from data[:end], which is known to be the start
// of a valid JSON text; pending is the problem at end, if any.
type parser struct {
	data    []byte
	dup     Duplicates
	pos     int
	end     int
	pending *SyntaxError
}

// fail is the error for reaching end: the problem found there.
func (p *parser) fail() error {
	if p.pending != nil {
		return p.pending
	}
	return &SyntaxError{Off: int64(p.end), Msg: "unexpected end of file"}
}

func (p *parser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
			continue
		}
		return
	}
}

// next skips white space and returns the next byte, or false at end.
func (p *parser) next() (byte, bool) {
	p.space()
	if p.pos >= p.end {
		return 0, false
	}
	return p.data[p.pos], true
}

func (p *parser) value(depth int) (*Node, error) {
	c, ok := p.next()
	if !ok {
		return nil, p.fail()
	}
	off := int64(p.pos)
	switch c {
	case '{', '[':
		if depth >= MaxDepth {
			return nil, &SyntaxError{Off: off, Msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		p.pos++
		if c == '{' {
			return p.object(off, depth)
		}
		return p.array(off, depth)
	case '"':
		str, err := p.string()
		if err != nil {
			return nil, err
		}
		return &Node{Kind: String, Off: off, Str: str}, nil
	case 't', 'f', 'n':
		lit := map[byte]string{'t': "true", 'f': "false", 'n': "null"}[c]
		if p.end-p.pos < len(lit) {
			return nil, p.fail()
		}
		p.pos += len(lit)
		if c == 'n' {
			return &Node{Kind: Null, Off: off}, nil
		}
		return &Node{Kind: Bool, Off: off, Bool: c == 't'}, nil
	}
	start := p.pos
	p.number()
	if p.pos == start {
		return nil, p.fail()
	}
	return &Node{Kind: Number, Off: off, Num: json.Number(p.data[start:p.pos])}, nil
}

// number advances over one number of JSON's grammar, and no further: "00"
// is the number 0 followed by unexpected data, as encoding/json reads it.
// encoding/json has already checked what it scans, up to p.end.
func (p *parser) number() {
	digits := func() {
		for p.pos < p.end && '0' <= p.data[p.pos] && p.data[p.pos] <= '9' {
			p.pos++
		}
	}
	at := func(set string) bool { return p.pos < p.end && strings.IndexByte(set, p.data[p.pos]) >= 0 }
	if at("-") {
		p.pos++
	}
	if at("0") {
		p.pos++
	} else {
		digits()
	}
	if at(".") {
		p.pos++
		digits()
	}
	if at("eE") {
		p.pos++
		if at("+-") {
			p.pos++
		}
		digits()
	}
}

// string reads the string that starts at pos.
func (p *parser) string() (string, error) {
	start, escaped := p.pos, false
	for i := start + 1; i < p.end; i++ {
		switch p.data[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			p.pos = i + 1
			raw := p.data[start:p.pos]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			if err := checkEscapes(raw, int64(start)); err != nil {
				return "", err
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", &SyntaxError{Off: int64(start), Msg: err.Error()}
			}
			return s, nil
		}
	}
	return "", p.fail()
}

func (p *parser) array(off int64, depth int) (*Node, error) {
	n := &Node{Kind: Array, Off: off}
	if c, ok := p.next(); ok && c == ']' {
		p.pos++
		return n, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Elems = append(n.Elems, v)
		c, ok := p.next()
		if !ok {
			return nil, p.fail()
		}
		p.pos++
		if c == ']' {
			return n, nil
		}
	}
}

func (p *parser) object(off int64, depth int) (*Node, error) {
	n := &Node{Kind: Object, Off: off, index: map[string]int{}}
	if c, ok := p.next(); ok && c == '}' {
		p.pos++
		return n, nil
	}
	for {
		if c, ok := p.next(); !ok || c != '"' {
			return nil, p.fail()
		}
		koff := int64(p.pos)
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		if c, ok := p.next(); !ok || c != ':' {
			return nil, p.fail()
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if i, seen := n.index[key]; seen {
			if p.dup == Refuse {
				return nil, &SyntaxError{Off: koff, Msg: fmt.Sprintf("duplicate key %q", key)}
			}
			n.Elems[i] = v // in the place of the first
		} else {
			n.index[key] = len(n.Keys)
			n.Keys = append(n.Keys, key)
			n.KeyOffs = append(n.KeyOffs, koff)
			n.Elems = append(n.Elems, v)
		}
		c, ok := p.next()
		if !ok {
			return nil, p.fail()
		}
		p.pos++
		if c == '}' {
			return n, nil
		}
	}
}

// checkEscapes refuses \u escapes of lone surrogates in a string token (raw
// bytes, quotes included), which encoding/json turns into U+FFFD.
func checkEscapes(raw []byte, off int64) error {
	hex := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		var r rune
		for _, c := range raw[i+2 : i+6] {
			switch {
			case '0' <= c && c <= '9':
				r = r<<4 | rune(c-'0')
			case 'a' <= c && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case 'A' <= c && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := hex(i)
		if !ok {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		if utf16.IsSurrogate(r) {
			r2, ok2 := hex(i + 6)
			if r >= 0xdc00 || !ok2 || utf16.DecodeRune(r, r2) == utf8.RuneError {
				return &SyntaxError{Off: off + int64(i), Msg: fmt.Sprintf(`invalid escape \u%04x: a lone UTF-16 surrogate`, r)}
			}
			i += 6
		}
		i += 5
	}
	return nil
}

// Get returns the value of key k of an object, or nil.
func (n *Node) Get(k string) *Node {
	if n == nil || n.Kind != Object {
		return nil
	}
	if i, ok := n.index[k]; ok {
		return n.Elems[i]
	}
	return nil
}

// LineCol turns a byte offset of data into a 1-based line and column.
func LineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return line, col
}

// At follows a JSON pointer given as its tokens; nil when it leads nowhere.
func (n *Node) At(path []string) *Node {
	cur := n
	for _, p := range path {
		if cur == nil {
			return nil
		}
		switch cur.Kind {
		case Object:
			cur = cur.Get(p)
		case Array:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(cur.Elems) {
				return nil
			}
			cur = cur.Elems[i]
		default:
			return nil
		}
	}
	return cur
}

// Value converts to plain Go values as encoding/json's UseNumber makes them
// (map[string]any, []any, string, json.Number, bool, nil).
func (n *Node) Value() any {
	switch n.Kind {
	case Object:
		m := make(map[string]any, len(n.Keys))
		for i, k := range n.Keys {
			m[k] = n.Elems[i].Value()
		}
		return m
	case Array:
		a := make([]any, len(n.Elems))
		for i, v := range n.Elems {
			a[i] = v.Value()
		}
		return a
	case String:
		return n.Str
	case Number:
		return n.Num
	case Bool:
		return n.Bool
	}
	return nil
}

// JSON re-encodes the value as compact JSON, keeping the order of keys.
func (n *Node) JSON() []byte {
	var b bytes.Buffer
	n.writeJSON(&b)
	return b.Bytes()
}

func (n *Node) writeJSON(b *bytes.Buffer) {
	switch n.Kind {
	case Object:
		b.WriteByte('{')
		for i, k := range n.Keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			n.Elems[i].writeJSON(b)
		}
		b.WriteByte('}')
	case Array:
		b.WriteByte('[')
		for i, v := range n.Elems {
			if i > 0 {
				b.WriteByte(',')
			}
			v.writeJSON(b)
		}
		b.WriteByte(']')
	case String:
		sb, _ := json.Marshal(n.Str)
		b.Write(sb)
	case Number:
		b.WriteString(n.Num.String())
	case Bool:
		if n.Bool {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	default:
		b.WriteString("null")
	}
}
