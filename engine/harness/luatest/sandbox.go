package luatest

import (
	lua "github.com/yuin/gopher-lua"
)

// newState returns the sandbox test files run in: Lua's base, string, table
// and math libraries and os.time/date/clock; no io, no debug, no loading of
// files or code. The test DSL, assert, json and harness are added by the
// runner.
func newState() *lua.LState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.OsLibName, lua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "require", "module",
		"collectgarbage", "_printregs", "getfenv", "setfenv", "newproxy"} {
		L.SetGlobal(name, lua.LNil)
	}
	if s, ok := L.GetGlobal("string").(*lua.LTable); ok {
		s.RawSetString("dump", lua.LNil)
	}
	if full, ok := L.GetGlobal("os").(*lua.LTable); ok {
		os := L.NewTable()
		for _, name := range []string{"time", "date", "clock"} {
			os.RawSetString(name, full.RawGetString(name))
		}
		L.SetGlobal("os", os)
	}
	return L
}
