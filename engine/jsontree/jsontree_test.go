package jsontree

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseKeepsOrderAndOffsets(t *testing.T) {
	src := "{\"b\": 1,\n \"a\": [true, null, \"x\\u00e9\\ud83d\\ude00\"], \"c\": {}}"
	n, err := Parse([]byte(src), Refuse)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(n.Keys, ","); got != "b,a,c" {
		t.Errorf("keys %s, want b,a,c", got)
	}
	if got, want := n.KeyOffs[1], int64(strings.Index(src, `"a"`)); got != want {
		t.Errorf("offset of key a %d, want %d", got, want)
	}
	a := n.Get("a")
	if a == nil || a.Kind != Array || a.Off != int64(strings.Index(src, "[")) {
		t.Fatalf("a = %+v", a)
	}
	if s := a.Elems[2]; s.Kind != String || s.Str != "xé😀" {
		t.Errorf("string %+v", s)
	}
	if line, col := LineCol([]byte(src), a.Off); line != 2 || col != 7 {
		t.Errorf("a at %d:%d, want 2:7", line, col)
	}
	if got := string(n.JSON()); got != `{"b":1,"a":[true,null,"xé😀"],"c":{}}` {
		t.Errorf("JSON %s", got)
	}
	if v := n.At([]string{"a", "1"}); v == nil || v.Kind != Null {
		t.Errorf("At a/1 = %+v", v)
	}
	if v := n.At([]string{"a", "3"}); v != nil {
		t.Errorf("At a/3 = %+v, want nil", v)
	}
}

func TestParseDuplicates(t *testing.T) {
	src := []byte(`{"k": 1, "j": 2, "k": 3}`)
	n, err := Parse(src, LastWins)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(n.JSON()); got != `{"k":3,"j":2}` {
		t.Errorf("LastWins: %s, want the last value in the first place", got)
	}
	_, err = Parse(src, Refuse)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Msg != `duplicate key "k"` || se.Off != 17 {
		t.Errorf("Refuse: %v", err)
	}
}

// TestParseRefuses covers what encoding/json would accept or repair.
func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	for _, c := range []struct {
		name, in, msg string
		off           int64
	}{
		{"empty", ``, "unexpected end of file", 0},
		{"truncated", `{"a": [1`, "unexpected end of file", 8},
		{"trailing object", `{} {}`, "unexpected data after the JSON object", 3},
		{"trailing garbage", `{"a": 1} x`, "unexpected data after the JSON object", 9},
		{"trailing bracket", `[1]]`, "unexpected data after the JSON value", 3},
		{"leading zero", `00`, "unexpected data after the JSON value", 1},
		{"negative leading zero", `[-01]`, "invalid character '1' after array element", 3},
		{"invalid UTF-8 in a string", "{\"a\": \"x\xffy\"}", "invalid UTF-8 byte 0xff", 8},
		{"truncated UTF-8", "\"\xe2\x82\"", "invalid UTF-8 byte 0xe2", 1},
		{"lone high surrogate", `{"a": "x\ud800y"}`, `invalid escape \ud800: a lone UTF-16 surrogate`, 8},
		{"lone low surrogate", `["\udc00"]`, `invalid escape \udc00: a lone UTF-16 surrogate`, 2},
		{"high then not low", `["\ud800\u0041"]`, `invalid escape \ud800: a lone UTF-16 surrogate`, 2},
		{"too deep", deep, fmt.Sprintf("nested deeper than %d levels", MaxDepth), MaxDepth},
		{"syntax", `{"a" 1}`, "invalid character '1' after object key", 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in), LastWins)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err %v, want a SyntaxError", err)
			}
			if se.Msg != c.msg || se.Off != c.off {
				t.Errorf("got %q at %d, want %q at %d", se.Msg, se.Off, c.msg, c.off)
			}
		})
	}
}

func TestParseAcceptsEscapes(t *testing.T) {
	// An escaped backslash before "u" is no \u escape.
	n, err := Parse([]byte(`["\\ud800", "\\\ud83d\ude00", "\u0041\""]`), Refuse)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`\ud800`, `\😀`, `A"`}
	for i, w := range want {
		if got := n.Elems[i].Str; got != w {
			t.Errorf("element %d = %q, want %q", i, got, w)
		}
	}
}

func TestParseDepthLimitIsExact(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Parse([]byte(ok), Refuse); err != nil {
		t.Errorf("%d levels: %v", MaxDepth, err)
	}
}

// TestParseHostileShapes: the inputs that once took minutes (1 MB of
// nesting) or seconds (90k keys) are refused or accepted, and their
// results are right; BenchmarkParseHostile measures their speed.
func TestParseHostileShapes(t *testing.T) {
	for _, h := range hostile() {
		t.Run(h.name, func(t *testing.T) {
			n, err := Parse(h.data, LastWins)
			if h.wantErr != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || se.Msg != h.wantErr {
					t.Fatalf("err %v, want %q", err, h.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(n.Keys) != h.keys {
				t.Errorf("%d keys, want %d", len(n.Keys), h.keys)
			}
		})
	}
}

type hostileInput struct {
	name    string
	data    []byte
	wantErr string
	keys    int
}

func hostile() []hostileInput {
	const mb = 1 << 20
	var wide, dup strings.Builder
	wide.WriteString("{")
	dup.WriteString("{")
	for i := 0; i < 90000; i++ {
		if i > 0 {
			wide.WriteString(",")
			dup.WriteString(",")
		}
		fmt.Fprintf(&wide, `"k%d":1`, i)
		fmt.Fprintf(&dup, `"k%d":1`, i%100)
	}
	wide.WriteString("}")
	dup.WriteString("}")
	return []hostileInput{
		{name: "1 MB of [", data: []byte(strings.Repeat("[", mb)), wantErr: fmt.Sprintf("nested deeper than %d levels", MaxDepth)},
		{name: "1 MB of nested objects", data: []byte(strings.Repeat(`{"a":`, mb/5)), wantErr: fmt.Sprintf("nested deeper than %d levels", MaxDepth)},
		{name: "90k keys", data: []byte(wide.String()), keys: 90000},
		{name: "90k duplicate keys", data: []byte(dup.String()), keys: 100},
	}
}

func BenchmarkParseHostile(b *testing.B) {
	for _, h := range hostile() {
		b.Run(h.name, func(b *testing.B) {
			b.SetBytes(int64(len(h.data)))
			for b.Loop() {
				Parse(h.data, LastWins)
			}
		})
	}
}
