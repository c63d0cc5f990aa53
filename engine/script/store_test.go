package script

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// TestStoreExchange: values a Go task provides reach Lua as natural values
// and come back (through a Lua task's provides) with the same JSON shape.
func TestStoreExchange(t *testing.T) {
	value := map[string]any{
		"list":     []any{"a", "b", "c"},
		"map":      map[string]any{"a": 1.0, "b": "two", "c": true},
		"number":   42.5,
		"int":      7.0,
		"yes":      true,
		"no":       false,
		"text":     "héllo \"world\"",
		"empty":    []any{},
		"emptymap": map[string]any{},
		"nested": map[string]any{
			"instances": []any{
				map[string]any{"id": "i-1", "tags": []any{"x"}, "meta": map[string]any{"HA_Enabled": "True"}},
				map[string]any{"id": "i-2", "tags": []any{}, "meta": map[string]any{}},
			},
			"matrix": []any{[]any{1.0, 2.0}, []any{3.0}},
		},
		"with_null": []any{"a", nil, "c"},
	}
	keys := []string{}
	for k := range value {
		keys = append(keys, k)
	}
	f := newFixture(t, Options{}, map[string]string{"echo.lua": `
local keys = {"list", "map", "number", "int", "yes", "no", "text", "empty", "emptymap", "nested", "with_null"}
local provides = {}
for i, k in ipairs(keys) do provides[i] = "out_" .. k end
return {
  requires = keys,
  provides = provides,
  execute = function(store)
    -- natural Lua values
    assert(#store.list == 3 and store.list[1] == "a" and store.list[3] == "c", "list")
    assert(store.map.a == 1 and store.map.b == "two" and store.map.c == true, "map")
    assert(store.number == 42.5 and store.int == 7 and math.floor(store.int) == store.int, "numbers")
    assert(store.yes == true and store.no == false, "booleans")
    assert(type(store.empty) == "table" and next(store.empty) == nil, "empty list")
    assert(store.nested.instances[1].meta.HA_Enabled == "True", "nested map")
    assert(store.nested.matrix[1][2] == 2, "nested list")
    assert(store.with_null[2] == json.null and #store.with_null == 3, "null in a list")
    local out = {}
    for _, k in ipairs(keys) do out["out_" .. k] = store[k] end
    return out
  end,
}`})
	f.addGo("producer", keys, func(engine.Store) (engine.Store, error) { return engine.Store(value), nil })
	res := f.run(nil, "producer", "echo")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, k := range keys {
		if d := cmp.Diff(value[k], res.Store["out_"+k]); d != "" {
			t.Errorf("%s changed crossing Lua (-want +got):\n%s", k, d)
		}
	}
	// What Lua provided survives the daemon's JSON round trip unchanged.
	b, err := json.Marshal(res.Store)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if d := cmp.Diff(res.Store["out_"+k], back["out_"+k]); d != "" {
			t.Errorf("%s changed in a JSON round trip:\n%s", k, d)
		}
	}
}

// TestLuaValuesToStore: what Lua builds itself comes out JSON-shaped, and
// later Go tasks read it with the store's helpers.
func TestLuaValuesToStore(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"make.lua": `
return {
  provides = {"hosts", "report", "empty_list", "empty_object", "count"},
  execute = function()
    return {
      hosts = {"compute1", "compute2"},
      report = {ok = true, retries = 3, items = {{id = "a"}, {id = "b"}}, ratio = 0.25},
      empty_list = {},
      empty_object = json.object(),
      count = 2^31,
    }
  end,
}`})
	var seen []string
	f.addGo("reader", nil, func(in engine.Store) (engine.Store, error) {
		hosts, err := in.Strings("hosts")
		seen = hosts
		return nil, err
	})
	res := f.run(nil, "make", "reader")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := engine.Store{
		"hosts":        []any{"compute1", "compute2"},
		"report":       map[string]any{"ok": true, "retries": 3.0, "items": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}, "ratio": 0.25},
		"empty_list":   []any{},
		"empty_object": map[string]any{},
		"count":        2147483648.0,
	}
	for k, v := range want {
		if d := cmp.Diff(v, res.Store[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}
	if strings.Join(seen, ",") != "compute1,compute2" {
		t.Errorf("the Go task read %v", seen)
	}
}

// TestDeclaredKeys: a task provides exactly what it declares, with values
// the store can hold; each violation names the script and the key.
func TestDeclaredKeys(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"extra key", `return { provides = {"a"}, execute = function() return {a = 1, b = 2} end }`,
			`scripts/extra_key.lua: returned "b", which is not declared in provides {"a"}`},
		{"list item beside the keys", `return { provides = {"a"}, execute = function() return {a = 1, "x"} end }`,
			`scripts/list_item_beside_the_keys.lua: returned key 1 is not a string`},
		{"missing key", `return { provides = {"a", "b"}, execute = function() return {a = 1} end }`,
			`scripts/missing_key.lua: did not return "b", which it declares in provides`},
		{"returns nothing", `return { provides = {"a"}, execute = function() end }`,
			`scripts/returns_nothing.lua: execute returned nothing, but the script declares provides = {"a"}`},
		{"returns a string", `return { provides = {"a"}, execute = function() return "a" end }`,
			`execute must return a table of the provided keys (or nothing), not a string`},
		{"sparse list", `return { provides = {"a"}, execute = function() return {a = {1, nil, 3}} end }`,
			`provides "a": list has a gap at index 2; use json.null for an empty item`},
		{"far index", `return { provides = {"a"}, execute = function() local t = {1} t[10] = 2 return {a = t} end }`,
			`provides "a": list has a gap at index 2`},
		{"mixed table", `return { provides = {"a"}, execute = function() return {a = {1, 2, x = 3}} end }`,
			`provides "a": table mixes list items with named keys`},
		{"function value", `return { provides = {"a"}, execute = function() return {a = {f = print}} end }`,
			`provides "a": f: a function value cannot be stored`},
		{"NaN", `return { provides = {"a"}, execute = function() return {a = 0/0} end }`,
			`provides "a": number NaN cannot be stored`},
		{"boolean key", `return { provides = {"a"}, execute = function() return {a = {[true] = 1}} end }`,
			`provides "a": key true cannot be stored`},
	}
	files := map[string]string{}
	for _, c := range cases {
		files[strings.ReplaceAll(c.name, " ", "_")+".lua"] = c.src
	}
	f := newFixture(t, Options{}, files)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := f.run(nil, strings.ReplaceAll(c.name, " ", "_"))
			if res.Err == nil || !strings.Contains(res.Err.Error(), c.want) {
				t.Fatalf("error %v; want it to contain %q", res.Err, c.want)
			}
		})
	}
}

// TestProvidesAfterRemovedKey: a key set and then removed is not returned.
func TestProvidesAfterRemovedKey(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"p.lua": `return { provides = {"a"}, execute = function()
  local t = {a = 1, b = 2}
  t.b = nil
  return t
end }`})
	res := f.run(nil, "p")
	if res.Err != nil || res.Store["a"] != 1.0 {
		t.Fatalf("%v %v", res.Err, res.Store)
	}
	if _, ok := res.Store["b"]; ok {
		t.Fatalf("b provided: %v", res.Store)
	}
}

// TestStoreIsACopy: a task changing its store table changes nothing for
// later tasks; only returned keys count.
func TestStoreIsACopy(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"mutate.lua": `return { execute = function(store) store.instance_uuid = "x" store.new = 1 end }`,
		"check.lua":  `return { provides = {"v"}, execute = function(store) return {v = tostring(store.instance_uuid) .. tostring(store.new)} end }`,
	})
	res := f.run(nil, "mutate", "check")
	if res.Err != nil || res.Store["v"] != "11111111-2222-3333-4444-555555555555nil" {
		t.Fatalf("%v %v", res.Err, res.Store["v"])
	}
}
