package script

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
)

// withoutNilMembers is v as it comes back from Lua: a nil map member is
// absent there.
func withoutNilMembers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if e != nil {
				out[k] = withoutNilMembers(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = withoutNilMembers(e)
		}
		return out
	}
	return v
}

// storable tells why the store would refuse v, if it would: JSON nested
// deeper than maxDepth, or the largest float, which the store takes for an
// overflow.
func storable(v any, depth int) (tooDeep, hugeNumber bool) {
	if depth > maxDepth {
		return true, false
	}
	switch t := v.(type) {
	case float64:
		return false, t == math.MaxFloat64 || t == -math.MaxFloat64
	case map[string]any:
		for _, e := range t {
			d, h := storable(e, depth+1)
			tooDeep, hugeNumber = tooDeep || d, hugeNumber || h
		}
	case []any:
		for _, e := range t {
			d, h := storable(e, depth+1)
			tooDeep, hugeNumber = tooDeep || d, hugeNumber || h
		}
	}
	return tooDeep, hugeNumber
}

// FuzzStoreRoundTrip: a JSON value of the flow store comes back from Lua as
// it went in (less nil map members), and json.encode of its Lua form is the
// same JSON value; what cannot cross is refused with an error, never a
// panic.
func FuzzStoreRoundTrip(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5, "x", true, null], "b": {}, "c": []}`, `"text"`, `null`, `[[[]]]`,
		`{"1": "one", "2": "two"}`, `{"k": null}`, `[null, null]`, `-0`, `1e308`, `{"deep": {"er": {"est": [{}]}}}`} {
		f.Add([]byte(s))
	}
	sb := NewSandbox() // one state for every input: a fresh one costs more than the conversion
	f.Cleanup(sb.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		want := withoutNilMembers(v)
		tooDeep, huge := storable(v, 0)
		lv, err := sb.ToLua(v)
		if err != nil {
			if !tooDeep {
				t.Fatalf("ToLua(%s) refused a storable value: %v", data, err)
			}
			return
		}
		got, err := sb.FromLua(lv)
		if err != nil {
			if !tooDeep && !huge {
				t.Fatalf("FromLua(ToLua(%s)): %v", data, err)
			}
			return
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%s came back from Lua changed (-want +got):\n%s", data, d)
		}
		enc, err := sb.EncodeJSON(lv)
		if err != nil {
			t.Fatalf("json.encode of %s: %v", data, err)
		}
		var back any
		if err := json.Unmarshal([]byte(enc), &back); err != nil {
			t.Fatalf("json.encode of %s gave invalid JSON %q: %v", data, enc, err)
		}
		if d := cmp.Diff(want, withoutNilMembers(back)); d != "" {
			t.Fatalf("json.encode of %s = %s, a different value (-want +got):\n%s", data, enc, d)
		}
	})
}

// luaFromOps builds a Lua value from a program of bytes: each byte sets one
// entry of the table being built (a list item, a string, integer,
// fractional or boolean key; a nested table; NaN, json.null, a function),
// or ends the table. Any byte string is a program.
func luaFromOps(sb *Sandbox, ops []byte) lua.LValue {
	L := sb.State()
	null := sb.rs.null
	root := L.NewTable()
	stack := []*lua.LTable{root}
	for i, op := range ops {
		cur := stack[len(stack)-1]
		val := lua.LValue(lua.LString(string(rune('a' + op%26))))
		switch op % 16 {
		case 0:
			cur.Append(val)
		case 1:
			cur.RawSetString(string(rune('a'+op%7)), val)
		case 2:
			cur.RawSetInt(int(op%5)+1, val)
		case 3:
			cur.RawSet(lua.LNumber(float64(op)/3), val)
		case 4:
			cur.RawSet(lua.LBool(op%2 == 0), val)
		case 5:
			cur.Append(lua.LNumber(math.NaN()))
		case 6:
			cur.Append(null)
		case 7:
			cur.Append(L.NewFunction(func(*lua.LState) int { return 0 }))
		case 8, 9:
			if len(stack) < maxDepth+5 {
				child := L.NewTable()
				if op%16 == 8 {
					cur.Append(child)
				} else {
					cur.RawSetString("t"+string(rune('a'+i%3)), child)
				}
				stack = append(stack, child)
			}
		case 10:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case 11:
			cur.Append(lua.LNumber(float64(int8(op)) * 1e300))
		default:
			cur.Append(lua.LNumber(float64(op) - 100))
		}
	}
	return root
}

// FuzzFromLua: any Lua table gives a JSON value of the store or an error
// saying why not, never a panic; and an accepted value crosses back and
// forth unchanged.
func FuzzFromLua(f *testing.F) {
	for _, s := range []string{"", "\x00\x10\x20", "\x01\x11\x21", "\x02\x12", "\x03", "\x04", "\x05", "\x06\x00", "\x07",
		"\x08\x00\x0a\x00", "\x09\x01\x0a\x01", "\x0b", "\x02\x22\x32", strings.Repeat("\x08", 120)} {
		f.Add([]byte(s))
	}
	sb := NewSandbox()
	f.Cleanup(sb.Close)
	f.Fuzz(func(t *testing.T, ops []byte) {
		got, err := sb.FromLua(luaFromOps(sb, ops))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if _, err := json.Marshal(got); err != nil {
			var ute *json.UnsupportedValueError
			t.Fatalf("FromLua gave a value JSON cannot hold (%v): %#v", errors.As(err, &ute), got)
		}
		lv, err := sb.ToLua(got)
		if err != nil {
			t.Fatalf("ToLua refused what FromLua gave: %v", err)
		}
		again, err := sb.FromLua(lv)
		if err != nil {
			t.Fatalf("FromLua(ToLua(%#v)): %v", got, err)
		}
		// reflect.DeepEqual, not cmp.Diff: go-cmp's cycle check makes
		// deeply nested values take minutes.
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("a second crossing changed the value:\nfirst  %#v\nsecond %#v", got, again)
		}
	})
}
