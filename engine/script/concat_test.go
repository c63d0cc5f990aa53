package script

import (
	"strings"
	"testing"
)

// TestConcatKeepsLuaSemantics: the size-capped `..` joins what Lua's does,
// in the same order, with the same metamethods and errors, in task files,
// nested functions and lib modules.
func TestConcatKeepsLuaSemantics(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"lib/words.lua": `local M = {} function M.join(a, b) return a .. "-" .. b end return M`,
		"cat.lua": `
local words = require("words")
local V = setmetatable({}, {__concat = function(a, b)
  local l = type(a) == "table" and "V" or a
  local r = type(b) == "table" and "V" or b
  return "<" .. l .. "|" .. r .. ">"
end})
return {
  provides = {"plain", "numbers", "meta", "lib", "nested", "order"},
  execute = function(store)
    local log = {}
    local function part(s) log[#log + 1] = s return s end
    local function outer() return function(x) return x .. "!" end end
    return {
      plain = "a" .. "b" .. "c",
      numbers = 1 .. 2 .. 0.5 .. "x",
      meta = "a" .. V .. "b",
      lib = words.join("x", "y"),
      nested = outer()("deep"),
      order = part("1") .. part("2") .. part("3") .. table.concat(log, ","),
    }
  end,
}`,
		"bad.lua": `return {
  execute = function(store)
    local x = "a"
    return {y = x .. nil}
  end,
}`,
	})
	res := f.run(nil, "cat")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := map[string]string{
		"plain":   "abc",
		"numbers": "120.5x",
		"meta":    "a<V|b>",
		"lib":     "x-y",
		"nested":  "deep!",
		"order":   "1231,2,3",
	}
	for k, v := range want {
		if got := res.Store[k]; got != v {
			t.Errorf("%s = %#v, want %q", k, got, v)
		}
	}
	res = f.run(nil, "bad")
	if res.Err == nil {
		t.Fatal("concatenating nil succeeded")
	}
	if msg := res.Err.Error(); !strings.Contains(msg, "bad.lua:4:") || !strings.Contains(msg, "cannot perform concat operation between string and nil") {
		t.Fatalf("error %q does not name bad.lua:4 and the operands", msg)
	}
}
