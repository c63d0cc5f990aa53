package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/kaifuku-ha/kaifuku/engine/jsontree"
)

// decodeBody decodes a request body as Python's json.loads would for
// Masakari: key order kept, the last of duplicate keys winning. Invalid
// UTF-8, trailing data and nesting deeper than jsontree.MaxDepth are
// refused.
func decodeBody(data []byte) (*jsontree.Node, error) {
	return jsontree.Parse(data, jsontree.LastWins)
}

// pyStr is Python's str() of the value: strings bare, the rest as repr.
func pyStr(n *jsontree.Node) string {
	if n != nil && n.Kind == jsontree.String {
		return n.Str
	}
	return pyReprNode(n)
}

// pyReprNode is Python's repr() of the value as json.loads would have made
// it.
func pyReprNode(n *jsontree.Node) string {
	var b strings.Builder
	writeRepr(&b, n)
	return b.String()
}

func writeRepr(b *strings.Builder, n *jsontree.Node) {
	if n == nil {
		b.WriteString("None")
		return
	}
	switch n.Kind {
	case jsontree.Object:
		writeSeq(b, '{', '}', n, func(i int) {
			writePyString(b, n.Keys[i])
			b.WriteString(": ")
		})
	case jsontree.Array:
		writeSeq(b, '[', ']', n, func(int) {})
	case jsontree.String:
		writePyString(b, n.Str)
	case jsontree.Number:
		b.WriteString(pyNumber(n.Num))
	case jsontree.Bool:
		if n.Bool {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	default:
		b.WriteString("None")
	}
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
	var b strings.Builder
	writePyString(&b, s)
	return b.String()
}

func writePyString(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
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
			fmt.Fprintf(b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r > 0x7f:
			if r > 0xffff {
				fmt.Fprintf(b, `\U%08x`, r)
			} else if r > 0xff {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				fmt.Fprintf(b, `\x%02x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
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

// writeSeq writes n's elements between open and close, comma-separated,
// each after what before(i) writes.
func writeSeq(b *strings.Builder, open, close byte, n *jsontree.Node, before func(i int)) {
	b.WriteByte(open)
	for i, v := range n.Elems {
		if i > 0 {
			b.WriteString(", ")
		}
		before(i)
		writeRepr(b, v)
	}
	b.WriteByte(close)
}
