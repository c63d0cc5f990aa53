package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// node is a decoded JSON value that remembers the order of object keys, so
// that error messages can show the value as Masakari (Python) prints it.
type node struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	vals []*node
	s    string
	num  json.Number
	b    bool
}

// decodeOrdered decodes one JSON document; trailing data is an error.
func decodeOrdered(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return n, nil
}

func decodeNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := decodeNode(dec)
				if err != nil {
					return nil, err
				}
				if i := indexOf(n.keys, k); i >= 0 {
					n.vals[i] = v // the last duplicate wins, as in Python
					continue
				}
				n.keys, n.vals = append(n.keys, k), append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n := &node{kind: 'a'}
			for dec.More() {
				v, err := decodeNode(dec)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return &node{kind: 's', s: t}, nil
	case json.Number:
		return &node{kind: 'n', num: t}, nil
	case bool:
		return &node{kind: 'b', b: t}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func indexOf(keys []string, k string) int {
	for i, x := range keys {
		if x == k {
			return i
		}
	}
	return -1
}

// get returns the value of key k of an object.
func (n *node) get(k string) *node {
	if n == nil || n.kind != 'o' {
		return nil
	}
	if i := indexOf(n.keys, k); i >= 0 {
		return n.vals[i]
	}
	return nil
}

// at follows a JSON pointer given as its tokens.
func (n *node) at(path []string) *node {
	cur := n
	for _, p := range path {
		if cur == nil {
			return nil
		}
		switch cur.kind {
		case 'o':
			cur = cur.get(p)
		case 'a':
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i < 0 || i >= len(cur.vals) {
				return nil
			}
			cur = cur.vals[i]
		default:
			return nil
		}
	}
	return cur
}

// value converts to the plain Go value jsonschema validates.
func (n *node) value() any {
	switch n.kind {
	case 'o':
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.vals[i].value()
		}
		return m
	case 'a':
		a := make([]any, len(n.vals))
		for i, v := range n.vals {
			a[i] = v.value()
		}
		return a
	case 's':
		return n.s
	case 'n':
		return n.num
	case 'b':
		return n.b
	}
	return nil
}

// raw re-encodes the value as compact JSON, keeping key order.
func (n *node) raw() []byte {
	var b bytes.Buffer
	n.writeJSON(&b)
	return b.Bytes()
}

func (n *node) writeJSON(b *bytes.Buffer) {
	switch n.kind {
	case 'o':
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			n.vals[i].writeJSON(b)
		}
		b.WriteByte('}')
	case 'a':
		b.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			v.writeJSON(b)
		}
		b.WriteByte(']')
	case 's':
		sb, _ := json.Marshal(n.s)
		b.Write(sb)
	case 'n':
		b.WriteString(n.num.String())
	case 'b':
		if n.b {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	default:
		b.WriteString("null")
	}
}

// str is Python's str() of the value: strings bare, the rest as repr.
func (n *node) str() string {
	if n != nil && n.kind == 's' {
		return n.s
	}
	return n.repr()
}

// repr is Python's repr() of the value as json.loads would have made it.
func (n *node) repr() string {
	if n == nil {
		return "None"
	}
	switch n.kind {
	case 'o':
		parts := make([]string, len(n.keys))
		for i, k := range n.keys {
			parts[i] = pyString(k) + ": " + n.vals[i].repr()
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case 'a':
		parts := make([]string, len(n.vals))
		for i, v := range n.vals {
			parts[i] = v.repr()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case 's':
		return pyString(n.s)
	case 'n':
		return pyNumber(n.num)
	case 'b':
		if n.b {
			return "True"
		}
		return "False"
	}
	return "None"
}

func pyNumber(num json.Number) string {
	s := num.String()
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := num.Float64()
	if err != nil {
		return s
	}
	return pyFloat(f)
}

// pyFloat formats a float as Python's repr does ("1.0", "0.3", "1e-05").
func pyFloat(f float64) string {
	s := fmt.Sprintf("%v", f)
	if strings.ContainsAny(s, "e") {
		return s
	}
	if !strings.Contains(s, ".") && !strings.Contains(s, "Inf") && !strings.Contains(s, "NaN") {
		s += ".0"
	}
	return s
}

// pyString is Python's repr() of a str.
func pyString(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r > 0x7f:
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else if r > 0xff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\x%02x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyRepr is Python's repr() of a plain value (enum lists in messages).
func pyRepr(v any) string {
	switch t := v.(type) {
	case string:
		return pyString(t)
	case bool:
		if t {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case json.Number:
		return pyNumber(t)
	case float64:
		return pyFloat(t)
	}
	return fmt.Sprint(v)
}
