package luatest

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Failure is a failed assertion (or a harness call that could not run): where
// in the test file it happened, a one-line message and optional detail lines
// (a table diff).
type Failure struct {
	Where   string // "file:line"
	Message string
	Detail  string
}

func (f *Failure) Error() string {
	s := f.Where + ": " + f.Message
	if f.Detail != "" {
		s += "\n" + f.Detail
	}
	return s
}

const failureType = "kaifuku.failure"

// where returns "file:line" of the Lua code that called the running Go
// function.
func where(L *lua.LState) string {
	return strings.TrimSuffix(L.Where(1), ":")
}

// fail raises a Failure as a Lua error: userdata that pcall can catch and
// tostring can print, and that the runner recognises as an assertion failure.
func fail(L *lua.LState, msg, detail string) {
	f := &Failure{Where: where(L), Message: msg, Detail: detail}
	ud := L.NewUserData()
	ud.Value = f
	ud.Metatable = L.GetTypeMetatable(failureType)
	L.Error(ud, 0)
}

// failureOf extracts a Failure from a raised Lua value.
func failureOf(v lua.LValue) (*Failure, bool) {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return nil, false
	}
	f, ok := ud.Value.(*Failure)
	return f, ok
}

// errorText is how an error raised in Lua reads as text.
func errorText(v lua.LValue) string {
	if f, ok := failureOf(v); ok {
		return f.Error()
	}
	if s, ok := v.(lua.LString); ok {
		return string(s)
	}
	return show(v)
}

func describeValue(v lua.LValue) string {
	return show(v) + " (" + v.Type().String() + ")"
}

// openAssert installs the assert table. assert(v, msg) still works as Lua's
// assert.
func openAssert(L *lua.LState) {
	mt := L.NewTypeMetatable(failureType)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		f, _ := L.CheckUserData(1).Value.(*Failure)
		if f == nil {
			L.Push(lua.LString("assertion failed"))
			return 1
		}
		L.Push(lua.LString(f.Error()))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LString("locked"))

	a := L.NewTable()
	funcs := map[string]lua.LGFunction{
		"equals":    assertEquals,
		"same":      assertSame,
		"truthy":    assertTruthy,
		"falsy":     assertFalsy,
		"is_nil":    assertNil,
		"matches":   assertMatches,
		"has_error": assertHasError,
	}
	for name, fn := range funcs {
		a.RawSetString(name, L.NewFunction(fn))
	}
	meta := L.NewTable()
	meta.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		// assert(v, msg) called on the table: arguments start at 2.
		v := L.Get(2)
		if !lua.LVAsBool(v) {
			msg := "assertion failed!"
			if m, ok := L.Get(3).(lua.LString); ok {
				msg = string(m)
			}
			fail(L, msg, "")
		}
		return L.GetTop() - 1
	}))
	meta.RawSetString("__metatable", lua.LString("locked"))
	L.SetMetatable(a, meta)
	L.SetGlobal("assert", a)
}

// prefix prepends the caller's optional message argument.
func prefix(L *lua.LState, n int, msg string) string {
	if m, ok := L.Get(n).(lua.LString); ok && m != "" {
		return string(m) + ": " + msg
	}
	return msg
}

func assertEquals(L *lua.LState) int {
	want, got := L.Get(1), L.Get(2)
	if want.Type() == got.Type() && want == got {
		return 0
	}
	_, t1 := want.(*lua.LTable)
	_, t2 := got.(*lua.LTable)
	switch {
	case t1 && t2:
		msg := "expected the very same table, got another one"
		detail := ""
		if deepEqual(want, got) {
			msg += " with equal contents (equals compares identity; use assert.same)"
		} else {
			msg += " (- expected, + actual):"
			detail = diff(pretty(want), pretty(got))
		}
		fail(L, prefix(L, 3, msg), detail)
	case want.Type() != got.Type():
		fail(L, prefix(L, 3, "expected "+describeValue(want)+", got "+describeValue(got)), full("expected", want, "actual", got))
	default:
		fail(L, prefix(L, 3, "expected "+show(want)+", got "+show(got)), full("expected", want, "actual", got))
	}
	return 0
}

func assertSame(L *lua.LState) int {
	want, got := L.Get(1), L.Get(2)
	if deepEqual(want, got) {
		return 0
	}
	_, t1 := want.(*lua.LTable)
	_, t2 := got.(*lua.LTable)
	if t1 && t2 {
		fail(L, prefix(L, 3, "tables differ (- expected, + actual):"), diff(pretty(want), pretty(got)))
	}
	if want.Type() != got.Type() {
		fail(L, prefix(L, 3, "expected "+describeValue(want)+", got "+describeValue(got)), full("expected", want, "actual", got))
	}
	fail(L, prefix(L, 3, "expected "+show(want)+", got "+show(got)), full("expected", want, "actual", got))
	return 0
}

func assertTruthy(L *lua.LState) int {
	if v := L.Get(1); !lua.LVAsBool(v) {
		fail(L, prefix(L, 2, "expected a truthy value, got "+show(v)), "")
	}
	return 0
}

func assertFalsy(L *lua.LState) int {
	if v := L.Get(1); lua.LVAsBool(v) {
		fail(L, prefix(L, 2, "expected a falsy value (nil or false), got "+show(v)), full("actual", v))
	}
	return 0
}

func assertNil(L *lua.LState) int {
	if v := L.Get(1); v != lua.LNil {
		fail(L, prefix(L, 2, "expected nil, got "+describeValue(v)), full("actual", v))
	}
	return 0
}

// find runs string.find(s, pattern, 1, plain), the one tasks call.
func find(L *lua.LState, s, pattern string, plain bool) (bool, error) {
	fn, ok := L.GetField(L.GetGlobal("string"), "find").(*lua.LFunction)
	if !ok {
		return false, fmt.Errorf("string.find is missing")
	}
	if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, lua.LString(s), lua.LString(pattern), lua.LNumber(1), lua.LBool(plain)); err != nil {
		return false, err
	}
	r := L.Get(-1)
	L.Pop(1)
	return r != lua.LNil, nil
}

// matches reports whether s matches the Lua pattern, or contains it as plain
// text (so error messages with "-" or "." can be given as they read).
func matches(L *lua.LState, s, pattern string) (bool, error) {
	if ok, err := find(L, s, pattern, true); ok || err != nil {
		return ok, err
	}
	return find(L, s, pattern, false)
}

func assertMatches(L *lua.LState) int {
	pattern := L.CheckString(1)
	v := L.Get(2)
	var s string
	switch t := v.(type) {
	case lua.LString:
		s = string(t)
	case lua.LNumber:
		s = formatNumber(t)
	default:
		fail(L, prefix(L, 3, fmt.Sprintf("expected a string matching %q, got %s", pattern, describeValue(v))), "")
	}
	ok, err := matches(L, s, pattern)
	if err != nil {
		fail(L, prefix(L, 3, fmt.Sprintf("bad pattern %q: %v", pattern, err)), "")
	}
	if !ok {
		fail(L, prefix(L, 3, fmt.Sprintf("expected a string matching %q, got %s", pattern, show(v))), full("actual", v))
	}
	return 0
}

func assertHasError(L *lua.LState) int {
	fn := L.CheckFunction(1)
	pattern, hasPattern := L.Get(2).(lua.LString)
	err := L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true})
	if err == nil {
		fail(L, prefix(L, 3, "expected an error, but the function returned normally"), "")
	}
	if !hasPattern {
		return 0
	}
	var text string
	if ae, ok := err.(*lua.ApiError); ok {
		if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
			// The test's own time limit, not the function's error: let it through.
			L.Error(ae.Object, 0)
		}
		text = errorText(ae.Object)
	} else {
		text = err.Error()
	}
	ok, merr := matches(L, text, string(pattern))
	if merr != nil {
		fail(L, prefix(L, 3, fmt.Sprintf("bad pattern %q: %v", string(pattern), merr)), "")
	}
	if !ok {
		fail(L, prefix(L, 3, fmt.Sprintf("expected an error matching %q, got %s", string(pattern), show(lua.LString(text)))), full("error", lua.LString(text)))
	}
	return 0
}
