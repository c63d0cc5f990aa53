package simulated

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// node is one JSON value with the byte offset where it starts, so that every
// problem in a fixture can be reported at its line and column.
type node struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	off   int64
	str   string
	num   json.Number
	b     bool
	keys  []string // object keys, in file order
	koffs []int64  // offsets of the keys
	elems []*node  // object values (aligned with keys) or array elements
}

func (n *node) kindName() string {
	switch n.kind {
	case 'o':
		return "an object"
	case 'a':
		return "a list"
	case 's':
		return "a string"
	case 'n':
		return "a number"
	case 'b':
		return "true or false"
	}
	return "null"
}

// treeParser reads JSON into nodes with json.Decoder's token stream.
type treeParser struct {
	data []byte
	dec  *json.Decoder
}

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	off int64
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func parseTree(data []byte) (*node, error) {
	p := &treeParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &syntaxError{off: 0, msg: "empty file: want a JSON object"}
	}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	off := p.start()
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, &syntaxError{off: off, msg: "unexpected data after the JSON object"}
	}
	return n, nil
}

// start returns the offset of the next token: the decoder's offset is just
// after the previous one, before any white space, comma or colon.
func (p *treeParser) start() int64 {
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

func (p *treeParser) token() (json.Token, int64, error) {
	off := p.start()
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, se.Offset, &syntaxError{off: se.Offset, msg: se.Error()}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, int64(len(p.data)), &syntaxError{off: int64(len(p.data)), msg: "unexpected end of file"}
		}
		return nil, off, &syntaxError{off: off, msg: err.Error()}
	}
	return tok, off, nil
}

func (p *treeParser) value() (*node, error) {
	tok, off, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o', off: off}
			seen := map[string]bool{}
			for p.dec.More() {
				kt, koff, err := p.token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, &syntaxError{off: koff, msg: "want an object key"}
				}
				if seen[key] {
					return nil, &syntaxError{off: koff, msg: fmt.Sprintf("duplicate key %q", key)}
				}
				seen[key] = true
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.koffs = append(n.koffs, koff)
				n.elems = append(n.elems, v)
			}
			if _, _, err := p.token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &node{kind: 'a', off: off}
			for p.dec.More() {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, _, err := p.token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		}
		return nil, &syntaxError{off: off, msg: fmt.Sprintf("unexpected %q", rune(t))}
	case string:
		return &node{kind: 's', off: off, str: t}, nil
	case json.Number:
		return &node{kind: 'n', off: off, num: t}, nil
	case bool:
		return &node{kind: 'b', off: off, b: t}, nil
	case nil:
		return &node{kind: 'z', off: off}, nil
	}
	return nil, &syntaxError{off: off, msg: fmt.Sprintf("unexpected token %v", tok)}
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
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
