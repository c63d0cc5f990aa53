package script

import (
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/engine/script/pattern"
)

// maxStringBytes caps every string a builtin creates in one call
// (string.rep, string.format, string.gsub, table.concat, json.encode, HTTP
// bodies): one call cannot allocate more than this.
const maxStringBytes = 16 << 20

// maxDateFormat caps os.date's format: one conversion expands to at most a
// few dozen bytes, so the result stays far below maxStringBytes.
const maxDateFormat = 64 << 10

// maxErrorBytes caps the message of a Lua error kept in a task's result, the
// notification's details and the log: the rest is cut, with its size said.
const maxErrorBytes = 8 << 10

// stringLib returns the string library with the functions that gopher-lua
// cannot interrupt replaced: pattern matching with a step budget that
// watches the task's context, a linear gsub, and size-capped rep and format.
func (rs *runState) stringLib(orig *lua.LTable) *lua.LTable {
	L := rs.L
	t := L.CreateTable(0, 16)
	for _, name := range []string{"byte", "char", "len", "lower", "upper", "reverse", "sub"} {
		t.RawSetString(name, orig.RawGetString(name))
	}
	format := orig.RawGetString("format").(*lua.LFunction)
	t.RawSetString("dump", rs.disabled("string.dump", "bytecode is not available in kaifuku tasks"))
	t.RawSetString("rep", L.NewFunction(strRep))
	t.RawSetString("format", L.NewFunction(func(L *lua.LState) int { return strFormat(L, format) }))
	t.RawSetString("find", L.NewFunction(func(L *lua.LState) int { return rs.strFind(L, true) }))
	t.RawSetString("match", L.NewFunction(func(L *lua.LState) int { return rs.strFind(L, false) }))
	t.RawSetString("gmatch", L.NewFunction(rs.strGmatch))
	t.RawSetString("gsub", L.NewFunction(rs.strGsub))
	return t
}

func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	sep := L.OptString(3, "")
	if n <= 0 {
		L.Push(lua.LString(""))
		return 1
	}
	if size := int64(len(s))*int64(n) + int64(len(sep))*int64(n-1); size > maxStringBytes {
		L.RaiseError("string.rep: the result would be %d bytes, more than the %d MiB limit of kaifuku tasks", size, maxStringBytes>>20)
	}
	if sep == "" {
		L.Push(lua.LString(strings.Repeat(s, n)))
		return 1
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// strFormat checks the conversions as Lua 5.1 does (width and precision of
// at most two digits) so that one call cannot allocate without bound, then
// formats with gopher-lua's implementation.
func strFormat(L *lua.LState, orig *lua.LFunction) int {
	f := L.CheckString(1)
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
			digits++
		}
		if i < len(f) && f[i] == '.' {
			i++
			pd := 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
				pd++
			}
			digits = max(digits, pd)
		}
		if digits > 2 {
			L.RaiseError("invalid format (width or precision too long)")
		}
		if i >= len(f) || strings.IndexByte("cdiouxXeEfgGqs", f[i]) < 0 {
			L.RaiseError("invalid option to 'format'")
		}
	}
	// A conversion adds at most its argument's text and a two-digit width, so
	// the sum bounds the result before anything is allocated.
	top := L.GetTop()
	size := int64(len(f))
	for i := 2; i <= top; i++ {
		size += 99 + 2*int64(len(lua.LVAsString(L.Get(i)))) // %q may double a string
	}
	if size > maxStringBytes {
		L.RaiseError("string.format: the result could be %d bytes, more than the %d MiB limit of kaifuku tasks", size, maxStringBytes>>20)
	}
	L.Push(orig)
	for i := 1; i <= top; i++ {
		L.Push(L.Get(i))
	}
	L.Call(top, 1)
	return 1
}

// check returns the function the matcher calls every few thousand steps: it
// stops the match when the task's context ends (timeout, memory guard).
func (rs *runState) check(L *lua.LState) func() error {
	ctx := L.Context()
	if ctx == nil {
		return nil
	}
	return func() error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pattern matching stopped: %w", err)
		}
		return nil
	}
}

func (rs *runState) raisePattern(L *lua.LState, err error) {
	L.RaiseError("%s", err.Error())
}

// initPos converts Lua's 1-based, possibly negative init to an offset.
func initPos(init, n int) int {
	if init < 0 {
		init = n + init + 1
	}
	init--
	if init < 0 {
		init = 0
	}
	if init > n {
		init = n
	}
	return init
}

func (rs *runState) strFind(L *lua.LState, find bool) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	init := initPos(L.OptInt(3, 1), len(src))
	if find && (L.ToBool(4) || !pattern.HasSpecials(pat)) {
		if init > len(src) {
			L.Push(lua.LNil)
			return 1
		}
		i := strings.Index(src[init:], pat)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(pat)))
		return 2
	}
	m := pattern.New(src, pat, rs.check(L))
	p := 0
	anchor := len(pat) > 0 && pat[0] == '^'
	if anchor {
		p = 1
	}
	for s := init; s <= len(src); s++ {
		e, err := m.MatchAt(s, p)
		if err != nil {
			rs.raisePattern(L, err)
		}
		if e >= 0 {
			if find {
				L.Push(lua.LNumber(s + 1))
				L.Push(lua.LNumber(e))
				if m.Level() == 0 {
					return 2
				}
				return 2 + rs.pushCaptures(L, m, src, s, e)
			}
			return rs.pushCaptures(L, m, src, s, e)
		}
		if anchor {
			break
		}
	}
	L.Push(lua.LNil)
	return 1
}

func (rs *runState) pushCaptures(L *lua.LState, m *pattern.Matcher, src string, s, e int) int {
	caps, err := m.Captures(s, e)
	if err != nil {
		rs.raisePattern(L, err)
	}
	for _, c := range caps {
		L.Push(captureValue(c, src))
	}
	return len(caps)
}

func captureValue(c pattern.Capture, src string) lua.LValue {
	if c.Position {
		return lua.LNumber(c.Start + 1)
	}
	return lua.LString(src[c.Start:c.End])
}

func (rs *runState) strGmatch(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		m := pattern.New(src, pat, rs.check(L))
		for s := pos; s <= len(src); s++ {
			e, err := m.MatchAt(s, 0)
			if err != nil {
				rs.raisePattern(L, err)
			}
			if e >= 0 {
				pos = e
				if e == s {
					pos++
				}
				return rs.pushCaptures(L, m, src, s, e)
			}
		}
		pos = len(src) + 1
		return 0
	}))
	return 1
}

// strGsub replaces matches in one pass, appending to a builder: gopher-lua's
// version copies the whole subject once per match (quadratic).
func (rs *runState) strGsub(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	repl := L.Get(3)
	switch repl.Type() {
	case lua.LTString, lua.LTNumber, lua.LTTable, lua.LTFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(src)+1)
	m := pattern.New(src, pat, rs.check(L))
	p := 0
	anchor := len(pat) > 0 && pat[0] == '^'
	if anchor {
		p = 1
	}
	var b strings.Builder
	ctx := L.Context()
	s, n := 0, 0
	for n < maxN {
		e, err := m.MatchAt(s, p)
		if err != nil {
			rs.raisePattern(L, err)
		}
		if e >= 0 {
			n++
			rs.addValue(L, &b, m, src, s, e, repl)
			if n%1024 == 0 && ctx != nil && ctx.Err() != nil {
				L.RaiseError("string.gsub stopped: %v", ctx.Err())
			}
		}
		if e >= 0 && e > s {
			s = e
		} else if s < len(src) {
			b.WriteByte(src[s])
			s++
		} else {
			break
		}
		if b.Len() > maxStringBytes {
			L.RaiseError("string.gsub: the result is larger than the %d MiB limit of kaifuku tasks", maxStringBytes>>20)
		}
		if anchor {
			break
		}
	}
	b.WriteString(src[min(s, len(src)):])
	if b.Len() > maxStringBytes {
		L.RaiseError("string.gsub: the result is larger than the %d MiB limit of kaifuku tasks", maxStringBytes>>20)
	}
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

func (rs *runState) addValue(L *lua.LState, b *strings.Builder, m *pattern.Matcher, src string, s, e int, repl lua.LValue) {
	var val lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		rep := lua.LVAsString(r)
		for {
			i := strings.IndexByte(rep, '%')
			if i < 0 || i+1 >= len(rep) {
				b.WriteString(rep)
				return
			}
			b.WriteString(rep[:i])
			d := rep[i+1]
			rep = rep[i+2:]
			switch {
			case d == '0':
				b.WriteString(src[s:e])
			case d >= '1' && d <= '9':
				cp, err := m.Capture(int(d-'1'), s, e)
				if err != nil {
					rs.raisePattern(L, err)
				}
				b.WriteString(lua.LVAsString(captureValue(cp, src)))
			default:
				b.WriteByte(d)
			}
		}
	case *lua.LTable:
		cp, err := m.Capture(0, s, e)
		if err != nil {
			rs.raisePattern(L, err)
		}
		val = L.GetTable(r, captureValue(cp, src))
	case *lua.LFunction:
		L.Push(r)
		n := rs.pushCaptures(L, m, src, s, e)
		L.Call(n, 1)
		val = L.Get(-1)
		L.Pop(1)
	}
	switch v := val.(type) {
	case *lua.LNilType:
		b.WriteString(src[s:e])
	case lua.LBool:
		if !bool(v) {
			b.WriteString(src[s:e])
			return
		}
		L.RaiseError("invalid replacement value (a boolean)")
	case lua.LString, lua.LNumber:
		b.WriteString(lua.LVAsString(v))
	default:
		L.RaiseError("invalid replacement value (a %s)", val.Type())
	}
}

// tableLib returns the table library with a size-capped concat.
func (rs *runState) tableLib(orig *lua.LTable) *lua.LTable {
	t := rs.L.CreateTable(0, 8)
	for _, name := range []string{"getn", "insert", "maxn", "remove", "sort"} {
		t.RawSetString(name, orig.RawGetString(name))
	}
	t.RawSetString("concat", rs.L.NewFunction(tableConcat))
	return t
}

func tableConcat(L *lua.LState) int {
	tbl := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, tbl.Len())
	var b strings.Builder
	for k := i; k <= j; k++ {
		v := tbl.RawGetInt(k)
		switch v.(type) {
		case lua.LString, lua.LNumber:
		default:
			L.RaiseError("invalid value (at index %d) in table for 'concat'", k)
		}
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(lua.LVAsString(v))
		if b.Len() > maxStringBytes {
			L.RaiseError("table.concat: the result is larger than the %d MiB limit of kaifuku tasks", maxStringBytes>>20)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// mathLib is math without randomseed, which would reseed the process-wide
// generator for every other task.
func (rs *runState) mathLib(orig *lua.LTable) *lua.LTable {
	t := rs.L.CreateTable(0, 32)
	orig.ForEach(func(k, v lua.LValue) { t.RawSet(k, v) })
	t.RawSetString("randomseed", rs.disabled("math.randomseed", "the random generator is shared by all tasks"))
	return t
}

// osLib keeps time, date, clock and difftime; time() and date() without a
// time read the engine's clock, so fake time in tests is what scripts see.
func (rs *runState) osLib(orig *lua.LTable) *lua.LTable {
	L := rs.L
	t := L.CreateTable(0, 4)
	t.RawSetString("clock", orig.RawGetString("clock"))
	t.RawSetString("difftime", orig.RawGetString("difftime"))
	origTime := orig.RawGetString("time").(*lua.LFunction)
	origDate := orig.RawGetString("date").(*lua.LFunction)
	t.RawSetString("time", L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() == 0 || L.Get(1) == lua.LNil {
			L.Push(lua.LNumber(rs.now().Unix()))
			return 1
		}
		L.Push(origTime)
		L.Push(L.Get(1))
		L.Call(1, 1)
		return 1
	}))
	t.RawSetString("date", L.NewFunction(func(L *lua.LState) int {
		f := L.OptString(1, "%c")
		if len(f) > maxDateFormat {
			L.RaiseError("os.date: the format is %d bytes, more than the %d KiB limit of kaifuku tasks", len(f), maxDateFormat>>10)
		}
		at := L.Get(2)
		if at == lua.LNil {
			at = lua.LNumber(rs.now().Unix())
		}
		L.Push(origDate)
		L.Push(lua.LString(f))
		L.Push(at)
		L.Call(2, 1)
		return 1
	}))
	for _, name := range []string{"execute", "exit", "getenv", "remove", "rename", "setenv", "setlocale", "tmpname"} {
		t.RawSetString(name, rs.disabled("os."+name, "only os.time, os.date, os.clock and os.difftime are available in kaifuku tasks"))
	}
	return t
}

func (rs *runState) now() time.Time {
	if c := rs.cur; c != nil && c.env != nil && c.env.Clock != nil {
		return c.env.Clock.Now()
	}
	return time.Now()
}
