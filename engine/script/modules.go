package script

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// openModules installs the host modules and functions in the base globals.
// One function table per module; the functions find the running task
// through rs.cur.
func (rs *runState) openModules() {
	L := rs.L
	fns := func(m map[string]lua.LGFunction) *lua.LTable {
		t := L.CreateTable(0, len(m))
		for name, f := range m {
			t.RawSetString(name, L.NewFunction(f))
		}
		return t
	}
	logLevel := func(level logrus.Level) lua.LGFunction {
		return func(L *lua.LState) int { return rs.logAt(L, level) }
	}
	rs.base.RawSetString("log", rs.seal("log", fns(map[string]lua.LGFunction{
		"debug": logLevel(logrus.DebugLevel),
		"info":  logLevel(logrus.InfoLevel),
		"warn":  logLevel(logrus.WarnLevel),
		"error": logLevel(logrus.ErrorLevel),
	})))
	jsonT := fns(map[string]lua.LGFunction{
		"encode": rs.jsonEncode,
		"decode": rs.jsonDecode,
		"object": func(L *lua.LState) int { return rs.mark(L, rs.objMT) },
		"array":  func(L *lua.LState) int { return rs.mark(L, rs.arrayMT) },
	})
	jsonT.RawSetString("null", rs.null)
	rs.base.RawSetString("json", rs.seal("json", jsonT))
	rs.base.RawSetString("http", rs.seal("http", fns(map[string]lua.LGFunction{"request": rs.httpRequest})))
	rs.base.RawSetString("smtp", rs.seal("smtp", fns(map[string]lua.LGFunction{"send": rs.smtpSend})))
	rs.base.RawSetString("cloud", rs.seal("cloud", fns(map[string]lua.LGFunction{
		"get_server":   rs.cloudGetServer,
		"list_servers": rs.cloudListServers,
		"get_service":  rs.cloudGetService,
	})))
	rs.base.RawSetString("print", L.NewFunction(rs.print))
	rs.base.RawSetString("progress", L.NewFunction(rs.progress))
	rs.base.RawSetString("sleep", L.NewFunction(rs.sleep))
	rs.base.RawSetString("skip", L.NewFunction(rs.skip))
	rs.base.RawSetString("require", L.NewFunction(rs.require))
}

// running returns the running call, raising an error when fn needs a task
// (not the load-time run of a script's top level).
func (rs *runState) running(L *lua.LState, fn string, needTask bool) *call {
	c := rs.cur
	if c == nil {
		L.RaiseError("%s: no task is running", fn)
	}
	if needTask && c.loading {
		L.RaiseError("%s cannot be called while the script loads; call it from execute", fn)
	}
	return c
}

func (rs *runState) print(L *lua.LState) int {
	c := rs.running(L, "print", false)
	parts := make([]string, L.GetTop())
	for i := range parts {
		parts[i] = lua.LVAsString(L.ToStringMeta(L.Get(i + 1)))
	}
	c.log.Info(strings.Join(parts, "\t"))
	return 0
}

func (rs *runState) logAt(L *lua.LState, level logrus.Level) int {
	c := rs.running(L, "log", false)
	msg := lua.LVAsString(L.ToStringMeta(L.CheckAny(1)))
	entry := c.log
	if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
		fields := L.CheckTable(2)
		f := logrus.Fields{}
		fields.ForEach(func(k, v lua.LValue) {
			key := lua.LVAsString(k)
			switch v.(type) {
			case lua.LString, lua.LNumber, lua.LBool:
				gv, _ := rs.fromLua(c, v, 0)
				f[key] = gv
			default:
				if s, err := rs.encodeJSON(c, v); err == nil {
					f[key] = s
				} else {
					f[key] = lua.LVAsString(v)
				}
			}
		})
		entry = entry.WithFields(f)
	}
	entry.Log(level, msg)
	return 0
}

func (rs *runState) progress(L *lua.LState) int {
	c := rs.running(L, "progress", true)
	msg := L.CheckString(1)
	frac := float64(L.OptNumber(2, 0))
	if frac < 0 || frac > 1 || math.IsNaN(frac) {
		L.ArgError(2, "progress fraction must be between 0 and 1")
	}
	c.env.Progress(msg, frac)
	return 0
}

// sleep waits on the engine's clock; a sleep past the task's deadline ends
// the task with a timeout (fake clocks return at once).
func (rs *runState) sleep(L *lua.LState) int {
	c := rs.running(L, "sleep", true)
	secs := float64(L.CheckNumber(1))
	if secs < 0 || math.IsNaN(secs) || secs > 86400 {
		L.ArgError(1, "seconds must be between 0 and 86400")
	}
	clk := c.env.Clock
	if clk == nil {
		L.RaiseError("sleep: the engine gave the task no clock")
	}
	if err := clk.Sleep(c.ctx, time.Duration(secs*float64(time.Second))); err != nil {
		c.cancel(err)
		L.RaiseError("sleep(%v) interrupted: %v", secs, err)
	}
	return 0
}

// skip ends the flow early with Masakari's skip outcome (the notification
// is finished). pcall cannot catch it: the task's context is cancelled.
func (rs *runState) skip(L *lua.LState) int {
	c := rs.running(L, "skip", true)
	c.skipped = true
	c.skipReason = L.OptString(1, "skipped by "+c.task.script.name)
	c.cancel(errSkip)
	L.RaiseError("skip: %s", c.skipReason)
	return 0
}

var moduleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// require loads a module from the scripts directory's lib/ (compiled at
// load). Modules run once per task execution, with the task's globals.
func (rs *runState) require(L *lua.LState) int {
	c := rs.running(L, "require", false)
	name := L.CheckString(1)
	if v, ok := c.modules[name]; ok {
		L.Push(v)
		return 1
	}
	if !moduleName.MatchString(name) {
		L.RaiseError("require %q: module names are like \"mail\" or \"util.text\" (files under %s)", name, rs.set.chunkName("lib"))
	}
	mod, ok := rs.set.libs[name]
	if !ok {
		L.RaiseError("module %q not found: no file %s.lua (only modules under %s can be required)",
			name, rs.set.chunkName("lib/"+strings.ReplaceAll(name, ".", "/")), rs.set.chunkName("lib"))
	}
	if c.requiring[name] {
		L.RaiseError("module %q requires itself (a require loop)", name)
	}
	if c.requiring == nil {
		c.requiring = map[string]bool{}
		c.modules = map[string]lua.LValue{}
	}
	c.requiring[name] = true
	fn := L.NewFunctionFromProto(mod.proto)
	fn.Env = c.globals
	L.Push(fn)
	L.Push(lua.LString(name))
	L.Call(1, 1)
	delete(c.requiring, name)
	v := L.Get(-1)
	if v == lua.LNil {
		v = lua.LTrue
	}
	c.modules[name] = v
	L.Pop(1)
	L.Push(v)
	return 1
}

func (rs *runState) mark(L *lua.LState, mt *lua.LTable) int {
	t := L.OptTable(1, nil)
	if t == nil {
		t = L.NewTable()
	}
	if cur, ok := t.Metatable.(*lua.LTable); ok && cur != rs.arrayMT && cur != rs.objMT {
		L.ArgError(1, "the table already has a metatable")
	}
	t.Metatable = mt
	L.Push(t)
	return 1
}

// jsonEncode needs no running task (a Sandbox has none); the running one,
// if any, lets a long encoding see its context end.
func (rs *runState) jsonEncode(L *lua.LState) int {
	s, err := rs.encodeJSON(rs.cur, L.CheckAny(1))
	if err != nil {
		L.RaiseError("json.encode: %v", err)
	}
	L.Push(lua.LString(s))
	return 1
}

func (rs *runState) jsonDecode(L *lua.LState) int {
	s := L.CheckString(1)
	v, err := rs.decodeJSON(s)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("json.decode: " + err.Error()))
		return 2
	}
	L.Push(v)
	return 1
}

// configHelpers are the functions of the `config` table; they read the
// running task's settings section and raise errors naming the section, key
// and, when known, the file and line.
func (rs *runState) configHelpers() *lua.LTable {
	L := rs.L
	t := L.CreateTable(0, len(configHelperNames))
	get := func(L *lua.LState) (conf.Section, string, string, bool) {
		c := rs.running(L, "config", false)
		sec := c.task.settings
		key := L.CheckString(1)
		v, ok := sec.Values[key]
		return sec, key, strings.TrimSpace(v), ok
	}
	bad := func(L *lua.LState, sec conf.Section, key, v, want string) {
		pos := ""
		if p, ok := sec.KeyPos[key]; ok && !p.IsZero() {
			pos = " (" + p.String() + ")"
		}
		L.RaiseError("config: [%s] %s = %q%s is not %s", sectionName(sec, rs.cur), key, v, pos, want)
	}
	t.RawSetString("get", L.NewFunction(func(L *lua.LState) int {
		_, _, v, ok := get(L)
		if !ok {
			L.Push(L.Get(2))
			return 1
		}
		L.Push(lua.LString(v))
		return 1
	}))
	t.RawSetString("required", L.NewFunction(func(L *lua.LState) int {
		sec, key, v, ok := get(L)
		if !ok || v == "" {
			L.RaiseError("config: [%s] %s is required; set it in the [%s] section of the configuration",
				sectionName(sec, rs.cur), key, sectionName(sec, rs.cur))
		}
		L.Push(lua.LString(v))
		return 1
	}))
	// typed reads a setting of one type: def is what an unset or empty key
	// gives, parse converts the value (false: it is not want).
	typed := func(want string, def func(L *lua.LState) lua.LValue, parse func(v string) (lua.LValue, bool)) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			sec, key, v, ok := get(L)
			if !ok || v == "" {
				L.Push(def(L))
				return 1
			}
			out, ok := parse(v)
			if !ok {
				bad(L, sec, key, v, want)
			}
			L.Push(out)
			return 1
		})
	}
	t.RawSetString("int", typed("an integer",
		func(L *lua.LState) lua.LValue { return lua.LNumber(L.OptInt(2, 0)) },
		func(v string) (lua.LValue, bool) {
			n, err := strconv.ParseInt(v, 10, 64)
			return lua.LNumber(n), err == nil
		}))
	t.RawSetString("number", typed("a number",
		func(L *lua.LState) lua.LValue { return lua.LNumber(L.OptNumber(2, 0)) },
		func(v string) (lua.LValue, bool) {
			n, err := strconv.ParseFloat(v, 64)
			return lua.LNumber(n), err == nil && !math.IsNaN(n) && !math.IsInf(n, 0)
		}))
	t.RawSetString("bool", typed("a boolean (true/false, yes/no, on/off, 1/0)",
		func(L *lua.LState) lua.LValue { return lua.LBool(L.OptBool(2, false)) },
		func(v string) (lua.LValue, bool) {
			b, ok := conf.ParseBool(v, conf.OptionWords)
			return lua.LBool(b), ok
		}))
	t.RawSetString("list", L.NewFunction(func(L *lua.LState) int {
		_, _, v, ok := get(L)
		out := L.NewTable()
		if !ok || v == "" {
			if d, isT := L.Get(2).(*lua.LTable); isT {
				out = d
			}
			L.Push(out)
			return 1
		}
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out.Append(lua.LString(item))
			}
		}
		L.Push(out)
		return 1
	}))
	return t
}

func sectionName(sec conf.Section, c *call) string {
	if sec.Name != "" {
		return sec.Name
	}
	if c != nil {
		return c.task.script.name
	}
	return "?"
}
