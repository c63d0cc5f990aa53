package script

import (
	"fmt"
	"strings"
	"testing"
)

// TestSandboxEscapes runs each escape attempt as a task: every one must fail
// with a clear error naming what was refused.
func TestSandboxEscapes(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"io.open", `io.open("/etc/passwd")`, "the io library is not available in kaifuku tasks"},
		{"io.write", `io.write("x")`, "the io library is not available"},
		{"os.execute", `os.execute("true")`, "os.execute is disabled: only os.time, os.date, os.clock and os.difftime"},
		{"os.exit", `os.exit(1)`, "os.exit is disabled"},
		{"os.getenv", `return {x = os.getenv("HOME")}`, "os.getenv is disabled"},
		{"os.remove", `os.remove("/tmp/x")`, "os.remove is disabled"},
		{"os.setenv", `os.setenv("A", "b")`, "os.setenv is disabled"},
		{"debug", `debug.getinfo(1)`, "the debug library is not available"},
		{"package.loadlib", `package.loadlib("libc.so", "system")`, "the package library is not available"},
		{"coroutine", `coroutine.create(function() end)`, "the coroutine library is not available"},
		{"dofile", `dofile("/etc/passwd")`, "dofile is disabled"},
		{"loadfile", `loadfile("/etc/passwd")`, "loadfile is disabled"},
		{"load", `load(function() return nil end)`, "load is disabled"},
		{"loadstring", `loadstring("return 1")()`, "loadstring is disabled"},
		{"string.dump", `string.dump(function() end)`, "string.dump is disabled"},
		{"collectgarbage", `collectgarbage()`, "collectgarbage is disabled"},
		{"getfenv", `getfenv(0).x = 1`, "getfenv is disabled"},
		{"setfenv", `setfenv(1, {})`, "setfenv is disabled"},
		{"newproxy", `newproxy(true)`, "newproxy is disabled"},
		{"module", `module("x")`, "module is disabled"},
		{"_printregs", `_printregs()`, "_printregs is disabled"},
		{"math.randomseed", `math.randomseed(42)`, "math.randomseed is disabled"},
		{"require os", `require("os")`, `module "os" not found: no file scripts/lib/os.lua`},
		{"require path", `require("../secret")`, `require "../secret": module names are like`},
		{"require absolute", `require("/etc/passwd")`, `module names are like`},
		{"string.upper", `string.upper = function() return "pwned" end`, "cannot set string.upper: library tables are read-only"},
		{"rawset string", `rawset(string, "upper", print)`, "bad argument #1 to rawset (table expected, got userdata)"},
		{"table.insert string", `table.insert(string, print)`, "table expected, got userdata"},
		{"setmetatable string lib", `setmetatable(string, {})`, "table expected, got userdata"},
		{"string metatable", `getmetatable("").__index = {}`, "attempt to index a non-table object(string)"},
		{"setmetatable on strings", `setmetatable("", {__index = function() return "pwned" end})`, "table expected, got string"},
		{"setmetatable on numbers", `setmetatable(1, {__index = function() return "pwned" end})`, "table expected, got number"},
		{"setmetatable on functions", `setmetatable(print, {})`, "table expected, got function"},
		{"globals metatable", `setmetatable(_G, nil)`, "cannot change a protected metatable"},
		{"json module", `json.encode = nil`, "cannot set json.encode: library tables are read-only"},
		{"log module", `log.info = print`, "cannot set log.info"},
	}
	files := map[string]string{}
	for i, c := range cases {
		files[fmt.Sprintf("esc%02d.lua", i)] = luaTask(c.body)
	}
	f := newFixture(t, Options{}, files)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf("esc%02d", i)
			res := f.run(nil, name)
			if res.Err == nil {
				t.Fatalf("%s succeeded; want an error containing %q", c.body, c.want)
			}
			msg := res.Err.Error()
			if !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not contain %q", msg, c.want)
			}
			t.Log(msg)
			if !strings.HasPrefix(msg, "scripts/"+name+".lua:3:") {
				t.Errorf("error %q does not start with the script's file:line", msg)
			}
		})
	}
}

// TestIsolation: nothing a task does to globals, library tables or shared
// metatables reaches a later task of the same run, nor a later run that
// reuses the pooled state.
func TestIsolation(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"tamper.lua": luaTask(`
      evil = "set by tamper"
      _G.evil2 = true
      rawset(_G, "evil3", 1)
      config.injected = "x"
      store.instance_uuid = "changed in lua"
      pcall(function() string.upper = function() return "pwned" end end)
      pcall(function() setmetatable(0, {__index = function() return "pwned" end}) end)
      pcall(function() getmetatable("").__index.upper = nil end)
      pcall(function() table.insert(string, "junk") end)
      local ok = pcall(function() json.null = 1 end)
      assert(not ok)`),
		"observe.lua": `
return {
  requires = {"instance_uuid"},
  provides = {"seen"},
  execute = function(store)
    local seen = {}
    if evil ~= nil or evil2 ~= nil or evil3 ~= nil then seen[#seen+1] = "globals leaked" end
    if config.injected ~= nil then seen[#seen+1] = "config leaked" end
    if ("abc"):upper() ~= "ABC" or string.upper("x") ~= "X" then seen[#seen+1] = "string.upper changed" end
    local ok, v = pcall(function() return (5).x end)
    if ok then seen[#seen+1] = "number metatable changed" end
    if store.instance_uuid ~= "11111111-2222-3333-4444-555555555555" then seen[#seen+1] = "store changed" end
    if #seen == 0 then seen = {"clean"} end
    return {seen = seen}
  end,
}`,
	})
	for run := 0; run < 3; run++ {
		res := f.run(nil, "tamper", "observe")
		if res.Err != nil {
			t.Fatalf("run %d: %v", run, res.Err)
		}
		if got := fmt.Sprint(res.Store["seen"]); got != "[clean]" {
			t.Fatalf("run %d: observe saw %s", run, got)
		}
	}
	// A later run reusing a pooled state sees nothing either.
	res := f.run(nil, "observe")
	if got := fmt.Sprint(res.Store["seen"]); res.Err != nil || got != "[clean]" {
		t.Fatalf("fresh run: %v %s", res.Err, got)
	}
}
