package script

import (
	"context"
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"
	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// State sizes: CallStackSize bounds recursion ("stack overflow"), the fixed
// registry bounds the data stack ("registry overflow"); both end a runaway
// recursion in well under a millisecond.
const (
	callStackSize = 200
	registrySize  = 256 * 16
)

// runState is one sealed Lua state, used by the Lua tasks of one flow run.
type runState struct {
	set *set
	L   *lua.LState
	// cur is the task running in the state (a state runs one task at a time).
	cur *call

	base    *lua.LTable // the globals every task sees (read through envMT)
	envMT   *lua.LTable
	cfgMT   *lua.LTable
	arrayMT *lua.LTable // marks an (empty) table as a JSON array
	objMT   *lua.LTable // marks an (empty) table as a JSON object
	null    *lua.LUserData

	// tainted states saw a timeout, an overflow or a panic: they finish
	// their run and are then discarded instead of pooled.
	tainted bool
	// broken states cannot run anything more, not even in their run.
	broken bool

	// loaded caches, for the run, each script's returned table and
	// globals: the top level runs once per run, so execute and revert (and
	// retries) of a task share its locals.
	loaded map[*script]loadedChunk

	// handler records the traceback of an error (see traceback).
	handler *lua.LFunction
}

// call is one execution of a task (or the load-time run of a script).
type call struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	watch   uint64      // the watchdog's id of this call
	env     *engine.Env // nil while loading
	log     *logrus.Entry
	task    *task
	loading bool

	skipped    bool
	skipReason string
	globals    *lua.LTable           // this execution's globals
	trace      string                // traceback of the last error
	modules    map[string]lua.LValue // require cache of this execution
	requiring  map[string]bool
}

func (s *set) getState() *runState {
	s.idleMu.Lock()
	if n := len(s.idle); n > 0 {
		rs := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		s.idleMu.Unlock()
		return rs
	}
	s.idleMu.Unlock()
	if v := s.pool.Get(); v != nil {
		return v.(*runState)
	}
	return s.newState()
}

// loadedChunk is a script's top level, run once in a run.
type loadedChunk struct {
	tbl, globals *lua.LTable
}

// release returns the state to the pool, or drops it when tainted.
func (rs *runState) release() {
	rs.cur = nil
	clear(rs.loaded)
	if rs.broken {
		rs.L.Close()
		return
	}
	rs.L.RemoveContext()
	rs.L.SetTop(0)
	if rs.tainted {
		rs.L.Close()
		return
	}
	s := rs.set
	s.idleMu.Lock()
	if len(s.idle) < maxIdleStates {
		s.idle = append(s.idle, rs)
		s.idleMu.Unlock()
		return
	}
	s.idleMu.Unlock()
	s.pool.Put(rs)
}

// runHolder is the per-run value kept in engine.Env.Shared: the run's
// state, replaced when a state breaks.
type runHolder struct {
	set *set
	rs  *runState
}

// newHolder is the create function of the run's engine.Env.Shared value.
func (s *set) newHolder() (any, error) {
	return &runHolder{set: s, rs: s.getState()}, nil
}

// Close ends the run's use of its state (engine.Env.Shared closes it when
// the run ends).
func (h *runHolder) Close() error {
	h.rs.release()
	return nil
}

// state returns a usable state for the next task of the run.
func (h *runHolder) state() *runState {
	if h.rs.broken {
		h.rs.L.Close()
		h.rs = h.set.getState()
	}
	return h.rs
}

func (s *set) newState() *runState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: callStackSize, RegistrySize: registrySize})
	rs := &runState{set: s, L: L}
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath}, {lua.OsLibName, lua.OpenOs}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	rs.base = L.CreateTable(0, 48)
	for _, name := range []string{"assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
		"rawset", "select", "tonumber", "tostring", "type", "unpack", "xpcall", "getmetatable", "_VERSION"} {
		rs.base.RawSetString(name, g.RawGetString(name))
	}
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "collectgarbage", "getfenv",
		"setfenv", "module", "newproxy", "_printregs", "gcinfo"} {
		rs.base.RawSetString(name, rs.disabled(name, "it is not available in kaifuku tasks"))
	}
	rs.base.RawSetString("setmetatable", L.NewFunction(baseSetMetatable))
	rs.base.RawSetString(concatName, L.NewFunction(luaConcat))

	rs.arrayMT = rs.protectedTable()
	rs.objMT = rs.protectedTable()
	rs.null = L.NewUserData()
	rs.null.Value = jsonNull{}
	nullMT := rs.protectedTable()
	nullMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("null")); return 1 }))
	rs.null.Metatable = nullMT

	str := rs.stringLib(g.RawGetString("string").(*lua.LTable))
	strMT := rs.protectedTable()
	strMT.RawSetString("__index", str)
	L.SetMetatable(lua.LString(""), strMT)

	rs.base.RawSetString("string", rs.seal("string", str))
	rs.base.RawSetString("table", rs.seal("table", rs.tableLib(g.RawGetString("table").(*lua.LTable))))
	rs.base.RawSetString("math", rs.seal("math", rs.mathLib(g.RawGetString("math").(*lua.LTable))))
	rs.base.RawSetString("os", rs.seal("os", rs.osLib(g.RawGetString("os").(*lua.LTable))))
	for _, name := range []string{"io", "debug", "package", "coroutine", "channel"} {
		rs.base.RawSetString(name, rs.unavailable(name))
	}
	rs.openModules()

	rs.handler = L.NewFunction(rs.traceback)

	rs.envMT = rs.protectedTable()
	rs.envMT.RawSetString("__index", rs.base)
	rs.cfgMT = rs.protectedTable()
	rs.cfgMT.RawSetString("__index", rs.configHelpers())

	// Nothing may reach the state's own globals any more.
	L.G.Global = L.CreateTable(0, 0)
	L.Env = L.G.Global
	return rs
}

// protectedTable returns a metatable that getmetatable and setmetatable
// cannot reach.
func (rs *runState) protectedTable() *lua.LTable {
	// Metatables hold a few fields: no room for a list part.
	mt := rs.L.CreateTable(0, 4)
	mt.RawSetString("__metatable", lua.LString("protected"))
	return mt
}

// seal returns a read-only view of a library table: a userdata whose
// metatable reads from tbl and refuses writes. rawset, table.insert and
// setmetatable cannot change a userdata, so the view stays as it is for
// every task that uses the state.
func (rs *runState) seal(name string, tbl *lua.LTable) *lua.LUserData {
	L := rs.L
	mt := rs.protectedTable()
	mt.RawSetString("__index", tbl)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("cannot set %s.%s: library tables are read-only in kaifuku tasks (use a local variable instead)",
			name, lua.LVAsString(L.Get(2)))
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("library " + name))
		return 1
	}))
	ud := L.NewUserData()
	ud.Value = name
	ud.Metatable = mt
	return ud
}

// unavailable returns a stand-in for a library kaifuku does not open: any
// use of it raises a clear error.
func (rs *runState) unavailable(name string) *lua.LUserData {
	L := rs.L
	mt := rs.protectedTable()
	raise := L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("the %s library is not available in kaifuku tasks", name)
		return 0
	})
	mt.RawSetString("__index", raise)
	mt.RawSetString("__newindex", raise)
	mt.RawSetString("__call", raise)
	ud := L.NewUserData()
	ud.Metatable = mt
	return ud
}

// disabled returns a function that raises "NAME is disabled: why".
func (rs *runState) disabled(name, why string) *lua.LFunction {
	return rs.L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is disabled: %s", name, why)
		return 0
	})
}

// baseSetMetatable is setmetatable restricted to tables: gopher-lua's own
// accepts any value and would then change the metatable shared by every
// number, boolean or function of the state.
func baseSetMetatable(L *lua.LState) int {
	tbl := L.CheckTable(1)
	mt := L.Get(2)
	if mt != lua.LNil {
		if _, ok := mt.(*lua.LTable); !ok {
			L.ArgError(2, "nil or table expected")
		}
	}
	if cur, ok := tbl.Metatable.(*lua.LTable); ok && cur.RawGetString("__metatable") != lua.LNil {
		L.RaiseError("cannot change a protected metatable")
	}
	tbl.Metatable = mt
	L.SetTop(1)
	return 1
}

// newEnv returns fresh globals for one execution: writes land in it, reads
// fall through to the shared read-only base.
func (rs *runState) newEnv(c *call) *lua.LTable {
	env := rs.L.CreateTable(0, 4)
	env.RawSetString("_G", env)
	env.RawSetString("config", rs.configTable(c.task.settings))
	env.Metatable = rs.envMT
	return env
}

// configHelperNames are the functions of the config table; a setting with
// one of these names is read with config.get(name).
var configHelperNames = []string{"get", "required", "int", "number", "bool", "list"}

func (rs *runState) configTable(sec conf.Section) *lua.LTable {
	t := rs.L.CreateTable(0, len(sec.Values))
	for k, v := range sec.Values {
		if !contains(configHelperNames, k) {
			t.RawSetString(k, lua.LString(v))
		}
	}
	t.Metatable = rs.cfgMT
	return t
}

// begin makes c the running call of the state, bound to ctx, until end.
func (rs *runState) begin(ctx context.Context, c *call) {
	c.ctx, c.cancel = context.WithCancelCause(ctx)
	c.watch = rs.set.watchdog.add(c.cancel)
	rs.cur = c
	rs.L.SetContext(c.ctx)
}

// end ends what begin started.
func (rs *runState) end(c *call) {
	rs.set.watchdog.remove(c.watch)
	c.cancel(nil)
	rs.cur = nil
	rs.L.RemoveContext()
}

// loadChunk runs the script's top level with fresh globals and returns the
// table it returns.
func (rs *runState) loadChunk(ctx context.Context, c *call) (*lua.LTable, error) {
	rs.begin(ctx, c)
	defer rs.end(c)
	return rs.runChunk(c)
}

// taskChunk returns the script's table for this run, running its top level
// on first use.
func (rs *runState) taskChunk(c *call) (*lua.LTable, error) {
	sc := c.task.script
	if lc, ok := rs.loaded[sc]; ok {
		c.globals = lc.globals
		return lc.tbl, nil
	}
	tbl, err := rs.runChunk(c)
	if err != nil {
		return nil, err
	}
	if rs.loaded == nil {
		rs.loaded = map[*script]loadedChunk{}
	}
	rs.loaded[sc] = loadedChunk{tbl: tbl, globals: c.globals}
	return tbl, nil
}

func (rs *runState) runChunk(c *call) (*lua.LTable, error) {
	L := rs.L
	proto := c.task.script.runProto
	if c.loading || proto == nil {
		proto = c.task.script.proto
	}
	fn := L.NewFunctionFromProto(proto)
	c.globals = rs.newEnv(c)
	fn.Env = c.globals
	L.Push(fn)
	if err := rs.pcall(0); err != nil {
		return nil, rs.failure(c, err)
	}
	ret := L.Get(-1)
	L.Pop(1)
	tbl, ok := ret.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("%s: the script must end with `return { requires = {...}, provides = {...}, execute = function(store) ... end }`, but it returned %s",
			c.task.script.chunk, describeValue(ret))
	}
	return tbl, nil
}

func describeValue(v lua.LValue) string {
	if v == lua.LNil {
		return "nothing"
	}
	return "a " + v.Type().String()
}

// where returns the "scripts/NAME.lua:LINE" prefix of a Lua error message.
func where(msg, fallback string) string {
	if i := strings.Index(msg, ".lua:"); i >= 0 {
		j := i + len(".lua:")
		k := j
		for k < len(msg) && msg[k] >= '0' && msg[k] <= '9' {
			k++
		}
		if k > j {
			return msg[:k]
		}
	}
	return fallback
}

// pcall calls the function below nargs arguments with the traceback
// handler. gopher-lua lets one error escape PCall: a registry overflow while
// it pushes the handler. The state is then inconsistent; it is marked broken
// (the run continues on a fresh state) and the overflow is returned.
func (rs *runState) pcall(nargs int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			rs.broken, rs.tainted = true, true
			if api, ok := r.(*lua.ApiError); ok {
				err = api
				return
			}
			err = fmt.Errorf("lua state failed: %v", r)
		}
	}()
	return rs.L.PCall(nargs, 1, rs.handler)
}

// maxTraceFrames bounds the traceback: gopher-lua's own walks every tail
// call of an endless tail recursion, which takes seconds.
const maxTraceFrames = 16

// traceback is the PCall error handler: it records a short Lua traceback
// for the log and passes the error object on unchanged.
func (rs *runState) traceback(L *lua.LState) int {
	obj := L.Get(1)
	var b strings.Builder
	b.WriteString("stack traceback:")
	last, repeats := "", 0
	// Level 0 is this handler.
	for level := 1; level <= maxTraceFrames; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Snl", dbg, lua.LNil); err != nil {
			break
		}
		var line string
		switch {
		case dbg.What == "G":
			line = fmt.Sprintf("[Go]: in function %s", nameOr(dbg.Name, "?"))
		case dbg.LineDefined == 0:
			line = fmt.Sprintf("%s:%d: in main chunk", dbg.Source, dbg.CurrentLine)
		default:
			line = fmt.Sprintf("%s:%d: in function %s", dbg.Source, dbg.CurrentLine,
				nameOr(dbg.Name, fmt.Sprintf("<%s:%d>", dbg.Source, dbg.LineDefined)))
		}
		if line == last {
			repeats++
			continue
		}
		if repeats > 0 {
			fmt.Fprintf(&b, "\n\t(the frame above %d more times)", repeats)
			repeats = 0
		}
		b.WriteString("\n\t" + line)
		last = line
	}
	if repeats > 0 {
		fmt.Fprintf(&b, "\n\t(the frame above %d more times)", repeats)
	}
	if rs.cur != nil {
		rs.cur.trace = b.String()
	}
	L.Push(obj)
	return 1
}

func nameOr(name, alt string) string {
	if name == "" {
		return alt
	}
	return "'" + name + "'"
}
