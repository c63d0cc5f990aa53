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
	"io"
	"strconv"
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

// Parse decodes data, which must hold exactly one JSON value.
func Parse(data []byte, dup Duplicates) (*Node, error) {
	if err := checkUTF8(data); err != nil {
		return nil, err
	}
	p := &parser{data: data, dup: dup, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	off := p.start()
	if _, err := p.dec.Token(); err != io.EOF {
		what := "value"
		if n.Kind == Object {
			what = "object"
		}
		return nil, &SyntaxError{Off: off, Msg: "unexpected data after the JSON " + what}
	}
	return n, nil
}

// checkUTF8 refuses invalid UTF-8, which encoding/json would replace.
func checkUTF8(data []byte) error {
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

type parser struct {
	data []byte
	dup  Duplicates
	dec  *json.Decoder
}

// start returns the offset of the next token: the decoder's offset is just
// after the previous one, before any white space, comma or colon.
func (p *parser) start() int64 {
	off := p.dec.InputOffset()
	for off < int64(len(p.data)) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

func (p *parser) token() (json.Token, int64, error) {
	off := p.start()
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, se.Offset, &SyntaxError{Off: se.Offset, Msg: se.Error()}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, int64(len(p.data)), &SyntaxError{Off: int64(len(p.data)), Msg: "unexpected end of file"}
		}
		return nil, off, &SyntaxError{Off: off, Msg: err.Error()}
	}
	if _, ok := tok.(string); ok {
		if raw := p.data[off:p.dec.InputOffset()]; bytes.IndexByte(raw, '\\') >= 0 {
			if err := checkEscapes(raw, off); err != nil {
				return nil, off, err
			}
		}
	}
	return tok, off, nil
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

func (p *parser) value(depth int) (*Node, error) {
	tok, off, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t != '{' && t != '[' {
			return nil, &SyntaxError{Off: off, Msg: fmt.Sprintf("unexpected %q", rune(t))}
		}
		if depth >= MaxDepth {
			return nil, &SyntaxError{Off: off, Msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		if t == '{' {
			return p.object(off, depth)
		}
		n := &Node{Kind: Array, Off: off}
		for p.dec.More() {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.Elems = append(n.Elems, v)
		}
		if _, _, err := p.token(); err != nil { // ']'
			return nil, err
		}
		return n, nil
	case string:
		return &Node{Kind: String, Off: off, Str: t}, nil
	case json.Number:
		return &Node{Kind: Number, Off: off, Num: t}, nil
	case bool:
		return &Node{Kind: Bool, Off: off, Bool: t}, nil
	case nil:
		return &Node{Kind: Null, Off: off}, nil
	}
	return nil, &SyntaxError{Off: off, Msg: fmt.Sprintf("unexpected token %v", tok)}
}

func (p *parser) object(off int64, depth int) (*Node, error) {
	n := &Node{Kind: Object, Off: off, index: map[string]int{}}
	for p.dec.More() {
		kt, koff, err := p.token()
		if err != nil {
			return nil, err
		}
		key, ok := kt.(string)
		if !ok {
			return nil, &SyntaxError{Off: koff, Msg: "want an object key"}
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if i, seen := n.index[key]; seen {
			if p.dup == Refuse {
				return nil, &SyntaxError{Off: koff, Msg: fmt.Sprintf("duplicate key %q", key)}
			}
			n.Elems[i] = v
			continue
		}
		n.index[key] = len(n.Keys)
		n.Keys = append(n.Keys, key)
		n.KeyOffs = append(n.KeyOffs, koff)
		n.Elems = append(n.Elems, v)
	}
	if _, _, err := p.token(); err != nil { // '}'
		return nil, err
	}
	return n, nil
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
