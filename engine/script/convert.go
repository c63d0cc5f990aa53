package script

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// errTooDeep is returned unwrapped, so a cycle does not repeat its path.
var errTooDeep = fmt.Errorf("tables nested more than %d levels deep (is there a cycle?)", maxDepth)

// maxDepth bounds the nesting of values crossing between Go and Lua (and of
// JSON); deeper tables are almost always a cycle.
const maxDepth = 100

// storeTable builds the Lua view of the flow store: a fresh deep copy, so a
// task cannot change what later tasks see except through what it returns.
func (rs *runState) storeTable(c *call, in engine.Store) (*lua.LTable, error) {
	t := rs.L.CreateTable(0, len(in))
	for k, v := range in {
		if v == nil {
			continue
		}
		lv, err := rs.toLua(v, 0)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		t.RawSetString(k, lv)
	}
	return t, nil
}

// toLua converts a JSON-shaped Go value. Lists become sequences and maps
// tables with string keys; empty lists and maps carry a marker metatable so
// that they come back as they went in. nil is absent in a map and json.null
// in a list (a hole would end the list).
func (rs *runState) toLua(v any, depth int) (lua.LValue, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", maxDepth)
	}
	switch t := v.(type) {
	case nil:
		return rs.null, nil
	case string:
		return lua.LString(t), nil
	case bool:
		return lua.LBool(t), nil
	case float64:
		return lua.LNumber(t), nil
	case int:
		return lua.LNumber(t), nil
	case int64:
		return lua.LNumber(t), nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, err
		}
		return lua.LNumber(f), nil
	case []any:
		tbl := rs.L.CreateTable(len(t), 0)
		if len(t) == 0 {
			tbl.Metatable = rs.arrayMT
		}
		for _, e := range t {
			lv, err := rs.toLua(e, depth+1)
			if err != nil {
				return nil, err
			}
			tbl.Append(lv)
		}
		return tbl, nil
	case []string:
		tbl := rs.L.CreateTable(len(t), 0)
		if len(t) == 0 {
			tbl.Metatable = rs.arrayMT
		}
		for _, e := range t {
			tbl.Append(lua.LString(e))
		}
		return tbl, nil
	case map[string]any:
		tbl := rs.L.CreateTable(0, len(t))
		tbl.Metatable = rs.objMT // until a member is set
		for k, e := range t {
			if e == nil {
				continue
			}
			tbl.Metatable = lua.LNil
			lv, err := rs.toLua(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			tbl.RawSetString(k, lv)
		}
		return tbl, nil
	case map[string]string:
		tbl := rs.L.CreateTable(0, len(t))
		if len(t) == 0 {
			tbl.Metatable = rs.objMT
		}
		for k, e := range t {
			tbl.RawSetString(k, lua.LString(e))
		}
		return tbl, nil
	}
	n, err := engine.Normalize(v)
	if err != nil {
		return nil, err
	}
	return rs.toLua(n, depth)
}

// fromLua converts a Lua value to the store's JSON shape: strings, float64,
// bools, nil (json.null), []any and map[string]any. A table is a list when
// its keys are exactly 1..n, a map when they are all strings; an empty table
// is a list unless json.object marked it. Mixed keys, gaps, NaN, functions
// and userdata are errors naming where they are.
func (rs *runState) fromLua(c *call, v lua.LValue, depth int) (any, error) {
	switch t := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(t), nil
	case lua.LString:
		return string(t), nil
	case lua.LNumber:
		f := float64(t)
		if math.IsNaN(f) || math.IsInf(f, 0) || f == math.MaxFloat64 || f == -math.MaxFloat64 {
			return nil, fmt.Errorf("number %v cannot be stored (JSON has no NaN or infinity)", f)
		}
		return f, nil
	case *lua.LUserData:
		if t == rs.null {
			return nil, nil
		}
		return nil, fmt.Errorf("a userdata value cannot be stored")
	case *lua.LTable:
		if depth >= maxDepth {
			return nil, errTooDeep
		}
		return rs.tableFromLua(c, t, depth)
	}
	return nil, fmt.Errorf("a %s value cannot be stored", v.Type())
}

func (rs *runState) tableFromLua(c *call, t *lua.LTable, depth int) (any, error) {
	n := t.MaxN()
	count, strKeys, badKey := 0, 0, lua.LValue(nil)
	t.ForEach(func(k, _ lua.LValue) {
		count++
		switch key := k.(type) {
		case lua.LString:
			strKeys++
		case lua.LNumber:
			if f := float64(key); f != math.Trunc(f) || f < 1 || f > float64(n) {
				if badKey == nil {
					badKey = k
				}
			}
		default:
			if badKey == nil {
				badKey = k
			}
		}
	})
	asObject := t.Metatable == rs.objMT
	switch {
	case count == 0 && asObject:
		return map[string]any{}, nil
	case count == 0:
		return []any{}, nil
	case strKeys == count || asObject:
		out := make(map[string]any, count)
		var err error
		t.ForEach(func(k, v lua.LValue) {
			if err != nil {
				return
			}
			var key string
			switch kk := k.(type) {
			case lua.LString:
				key = string(kk)
			case lua.LNumber:
				key = strconv.FormatFloat(float64(kk), 'f', -1, 64)
			default:
				err = fmt.Errorf("key %s is not a string", lua.LVAsString(k))
				return
			}
			var gv any
			gv, err = rs.fromLua(c, v, depth+1)
			if err != nil && err != errTooDeep {
				err = fmt.Errorf("%s: %w", key, err)
			}
			out[key] = gv
		})
		return out, err
	case strKeys > 0:
		return nil, fmt.Errorf("table mixes list items with named keys; use either a list {a, b} or a map {k = v}")
	case badKey != nil:
		if f, ok := badKey.(lua.LNumber); ok && f == lua.LNumber(math.Trunc(float64(f))) && f > lua.LNumber(n) {
			return nil, fmt.Errorf("list has a gap before index %v (a nil item?); use json.null for an empty item", badKey)
		}
		return nil, fmt.Errorf("key %s cannot be stored: keys are strings or list positions 1..n", badKey.String())
	}
	out := make([]any, n)
	for i := 1; i <= n; i++ {
		v := t.RawGetInt(i)
		if v == lua.LNil {
			return nil, fmt.Errorf("list has a gap at index %d; use json.null for an empty item", i)
		}
		gv, err := rs.fromLua(c, v, depth+1)
		if err == errTooDeep {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i-1] = gv
		if i%4096 == 0 && c != nil && c.ctx != nil && c.ctx.Err() != nil {
			return nil, c.ctx.Err()
		}
	}
	return out, nil
}

// encodeJSON encodes a Lua value as compact JSON (object keys sorted).
func (rs *runState) encodeJSON(c *call, v lua.LValue) (string, error) {
	gv, err := rs.fromLua(c, v, 0)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(gv); err != nil {
		return "", err
	}
	if buf.Len() > maxStringBytes {
		return "", fmt.Errorf("encoded JSON is larger than %d MiB", maxStringBytes>>20)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// decodeJSON decodes one JSON document into Lua values.
func (rs *runState) decodeJSON(s string) (lua.LValue, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return rs.toLua(v, 0)
}

// sortedKeys returns the string keys of a map, sorted.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
