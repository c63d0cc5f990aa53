package luatest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// emptyTable says what an empty Lua table becomes in Go: it is ambiguous
// between a list and a map.
type emptyTable int

const (
	emptyList emptyTable = iota // []any{}: store values such as instance_list
	emptyNull                   // nil: fixtures, where JSON null fits both lists and objects
)

// toGo converts a Lua value to a JSON-shaped Go value (nil, bool, float64,
// string, []any, map[string]any). path names the value in errors
// ("opts.store.instance_list[2]").
func toGo(v lua.LValue, path string, empty emptyTable) (any, error) {
	return toGoSeen(v, path, empty, map[*lua.LTable]bool{})
}

func toGoSeen(v lua.LValue, path string, empty emptyTable, seen map[*lua.LTable]bool) (any, error) {
	switch t := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(t), nil
	case lua.LNumber:
		f := float64(t)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%s: %v is not a JSON number", path, f)
		}
		return f, nil
	case lua.LString:
		return string(t), nil
	case *lua.LTable:
		if seen[t] {
			return nil, fmt.Errorf("%s: the table contains itself", path)
		}
		seen[t] = true
		defer delete(seen, t)
		n := t.Len()
		count := 0
		t.ForEach(func(lua.LValue, lua.LValue) { count++ })
		if count == 0 {
			if empty == emptyNull {
				return nil, nil
			}
			return []any{}, nil
		}
		if n > 0 && n == count {
			list := make([]any, n)
			for i := 1; i <= n; i++ {
				e, err := toGoSeen(t.RawGetInt(i), fmt.Sprintf("%s[%d]", path, i), empty, seen)
				if err != nil {
					return nil, err
				}
				list[i-1] = e
			}
			return list, nil
		}
		m := make(map[string]any, count)
		var ferr error
		t.ForEach(func(k, e lua.LValue) {
			if ferr != nil {
				return
			}
			ks, ok := k.(lua.LString)
			if !ok {
				ferr = fmt.Errorf("%s: mixes list items and named keys (key %s); use one or the other", path, k)
				return
			}
			g, err := toGoSeen(e, path+"."+string(ks), empty, seen)
			if err != nil {
				ferr = err
				return
			}
			m[string(ks)] = g
		})
		if ferr != nil {
			return nil, ferr
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s: a %s cannot be converted to data", path, v.Type())
}

// toLua converts a Go value to Lua. Maps and lists become tables; anything
// else that is not a plain value goes through its JSON form.
func toLua(L *lua.LState, v any) lua.LValue {
	switch t := v.(type) {
	case nil:
		return lua.LNil
	case lua.LValue:
		return t
	case bool:
		return lua.LBool(t)
	case string:
		return lua.LString(t)
	case float64:
		return lua.LNumber(t)
	case float32:
		return lua.LNumber(t)
	case int:
		return lua.LNumber(t)
	case int64:
		return lua.LNumber(t)
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return lua.LString(t.String())
		}
		return lua.LNumber(f)
	case []any:
		tb := L.CreateTable(len(t), 0)
		for i, e := range t {
			tb.RawSetInt(i+1, toLua(L, e))
		}
		return tb
	case []string:
		tb := L.CreateTable(len(t), 0)
		for i, e := range t {
			tb.RawSetInt(i+1, lua.LString(e))
		}
		return tb
	case map[string]any:
		tb := L.CreateTable(0, len(t))
		for _, k := range sortedKeys(t) {
			tb.RawSetString(k, toLua(L, t[k]))
		}
		return tb
	case map[string]string:
		tb := L.CreateTable(0, len(t))
		for k, e := range t {
			tb.RawSetString(k, lua.LString(e))
		}
		return tb
	}
	b, err := json.Marshal(v)
	if err != nil {
		return lua.LString(fmt.Sprint(v))
	}
	var g any
	if err := json.Unmarshal(b, &g); err != nil {
		return lua.LString(string(b))
	}
	return toLua(L, g)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// openJSON installs json.encode and json.decode for test files, so canned
// HTTP bodies can be written as tables.
func openJSON(L *lua.LState) {
	mod := L.NewTable()
	mod.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		g, err := toGo(L.CheckAny(1), "value", emptyList)
		if err != nil {
			L.ArgError(1, err.Error())
		}
		b, err := json.Marshal(g)
		if err != nil {
			L.ArgError(1, err.Error())
		}
		L.Push(lua.LString(b))
		return 1
	}))
	mod.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		var g any
		if err := json.Unmarshal([]byte(L.CheckString(1)), &g); err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString("invalid JSON: " + err.Error()))
			return 2
		}
		L.Push(toLua(L, g))
		return 1
	}))
	L.SetGlobal("json", mod)
}

// formatNumber prints a Lua number as Lua would.
func formatNumber(n lua.LNumber) string {
	f := float64(n)
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}
