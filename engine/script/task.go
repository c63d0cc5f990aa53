package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// ErrMemoryBudget is the cause of tasks stopped by the memory watchdog.
var ErrMemoryBudget = errors.New("memory budget exceeded")

// errSkip is the cancel cause of a task that called skip().
var errSkip = errors.New("skip")

// errProbe tells Execute that env.Shared keeps no per-run values.
var errProbe = errors.New("probe")

// Error is a Lua task failure. Message starts with "scripts/NAME.lua:LINE"
// where the line is known; Traceback is the Lua stack at the error.
type Error struct {
	Task      string
	Message   string
	Traceback string
	Err       error // context.DeadlineExceeded, ErrMemoryBudget, *lua.ApiError, ...
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// task is one Lua script in one flow.
type task struct {
	set      *set
	script   *script
	settings conf.Section
	timeout  time.Duration
}

var _ engine.Task = (*task)(nil)

// Execute runs the script's execute(store) in the run's state.
func (t *task) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	rs, perRun, err := t.state(env)
	if err != nil {
		return nil, err
	}
	if !perRun {
		defer rs.release()
	}
	return rs.execute(ctx, t, env, in, nil)
}

// Revert runs the script's revert(store, err) when it has one.
func (t *task) Revert(ctx context.Context, env *engine.Env, in engine.Store, cause error) error {
	if !t.script.decl.hasRevert {
		return nil
	}
	rs, perRun, err := t.state(env)
	if err != nil {
		return err
	}
	if !perRun {
		defer rs.release()
	}
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	_, err = rs.execute(ctx, t, env, in, &msg)
	return err
}

// state returns the run's shared state. Without a runner (engine.NewEnv)
// there is no per-run sharing (perRun is false): the caller then releases
// the state after the task.
func (t *task) state(env *engine.Env) (rs *runState, perRun bool, err error) {
	v, err := env.Shared(t.set, t.set.newHolder)
	if err != nil {
		return nil, false, err
	}
	// A second lookup finds the holder only when values are kept per run.
	_, probe := env.Shared(t.set, probeShared)
	return v.(*runHolder).state(), probe == nil, nil
}

// probeShared is the create function of the per-run probe in task.state.
func probeShared() (any, error) { return nil, errProbe }

// execute runs execute(store) or, with revertCause, revert(store, err).
func (rs *runState) execute(ctx context.Context, t *task, env *engine.Env, in engine.Store, revertCause *string) (engine.Store, error) {
	c := &call{task: t, env: env, log: env.Log}
	if c.log == nil {
		c.log = rs.set.log.WithField("task", t.script.name)
	}
	rs.begin(ctx, c)
	defer rs.end(c)
	tbl, err := rs.taskChunk(c)
	if err != nil {
		return nil, err
	}
	L := rs.L
	name := "execute"
	if revertCause != nil {
		name = "revert"
	}
	fn, ok := tbl.RawGetString(name).(*lua.LFunction)
	if !ok {
		if revertCause != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: execute must be a function(store)", t.script.chunk)
	}
	store, err := rs.storeTable(c, in)
	if err != nil {
		return nil, fmt.Errorf("%s: flow store: %w", t.script.chunk, err)
	}
	L.Push(fn)
	L.Push(store)
	nargs := 1
	if revertCause != nil {
		L.Push(lua.LString(*revertCause))
		nargs = 2
	}
	if err := rs.pcall(nargs); err != nil {
		return nil, rs.failure(c, err)
	}
	ret := L.Get(-1)
	L.Pop(1)
	if c.skipped {
		return nil, rs.failure(c, nil)
	}
	if revertCause != nil {
		return nil, nil
	}
	return rs.provides(c, ret)
}

// provides converts what execute returned and checks it against the
// declared provides.
func (rs *runState) provides(c *call, ret lua.LValue) (engine.Store, error) {
	sc := c.task.script
	declared := sc.decl.provides
	var tbl *lua.LTable
	switch v := ret.(type) {
	case *lua.LNilType:
		if len(declared) == 0 {
			return engine.Store{}, nil
		}
		return nil, fmt.Errorf("%s: execute returned nothing, but the script declares provides = {%s}; return a table with those keys",
			sc.chunk, quoted(declared))
	case *lua.LTable:
		tbl = v
	default:
		return nil, fmt.Errorf("%s: execute must return a table of the provided keys (or nothing), not a %s", sc.chunk, ret.Type())
	}
	if out, ok := rs.exactProvides(c, tbl, declared); ok {
		return out, nil
	}
	// Something is wrong: name every problem.
	out := engine.Store{}
	var errs []string
	tbl.ForEach(func(k, v lua.LValue) {
		key, ok := k.(lua.LString)
		if !ok {
			errs = append(errs, fmt.Sprintf("returned key %s is not a string", lua.LVAsString(k)))
			return
		}
		if !contains(declared, string(key)) {
			errs = append(errs, fmt.Sprintf("returned %q, which is not declared in provides {%s}", string(key), quoted(declared)))
			return
		}
		gv, err := rs.fromLua(c, v, 0)
		if err != nil {
			errs = append(errs, fmt.Sprintf("provides %q: %v", string(key), err))
			return
		}
		out[string(key)] = gv
	})
	for _, k := range declared {
		if _, ok := out[k]; !ok && tbl.RawGetString(k) == lua.LNil {
			errs = append(errs, fmt.Sprintf("did not return %q, which it declares in provides", k))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", sc.chunk, strings.Join(errs, "; "))
	}
	return out, nil
}

// exactProvides converts tbl when it holds exactly the declared keys, each
// with a value that can be stored; ok is false otherwise.
func (rs *runState) exactProvides(c *call, tbl *lua.LTable, declared []string) (out engine.Store, ok bool) {
	out = make(engine.Store, len(declared))
	for _, k := range declared {
		v := tbl.RawGetString(k)
		if v == lua.LNil {
			return nil, false
		}
		gv, err := rs.fromLua(c, v, 0)
		if err != nil {
			return nil, false
		}
		out[k] = gv
	}
	// No other keys: Next walks the table without allocating.
	n := 0
	for k, _ := tbl.Next(lua.LNil); k != lua.LNil; k, _ = tbl.Next(k) {
		if n++; n > len(declared) {
			return nil, false
		}
	}
	return out, n == len(declared)
}

func quoted(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// failure turns what PCall returned into the task's error: a skip, a
// timeout, the memory guard, a cancellation or the script's own error. The
// Lua traceback goes to the task's log (the runner logs the error itself).
func (rs *runState) failure(c *call, err error) error {
	sc := c.task.script
	if c.skipped {
		if c.env == nil || c.loading {
			return fmt.Errorf("%s: skip() can only be called from execute", sc.chunk)
		}
		return engine.Skip("%s", c.skipReason)
	}
	e := rs.classify(c, err)
	if e.Traceback != "" && c.log != nil {
		c.log.WithField("traceback", e.Traceback).Info("lua error traceback")
	}
	return e
}

func (rs *runState) classify(c *call, err error) *Error {
	sc := c.task.script
	msg, trace := sc.chunk, c.trace
	var api *lua.ApiError
	if errors.As(err, &api) {
		msg = rs.errorMessage(api)
		if trace == "" {
			trace = api.StackTrace
		}
		if api.Type == lua.ApiErrorPanic {
			rs.tainted = true
		}
	}
	at := where(msg, sc.chunk)
	fail := func(cause error, format string, a ...any) *Error {
		rs.tainted = true
		return &Error{Task: sc.name, Message: at + ": " + fmt.Sprintf(format, a...), Traceback: trace, Err: cause}
	}
	if c.ctx.Err() != nil {
		cause := context.Cause(c.ctx)
		switch {
		case errors.Is(cause, ErrMemoryBudget):
			return fail(ErrMemoryBudget, "memory budget exceeded: the kaifuku process heap passed [lua] memory_limit_mib (%d MiB) while the task ran",
				rs.set.watchdog.limit>>20)
		case errors.Is(cause, context.DeadlineExceeded):
			return fail(context.DeadlineExceeded, "timeout: the task did not finish within %s", c.task.timeout)
		case errors.Is(cause, context.Canceled):
			return fail(context.Canceled, "canceled: %v", cause)
		}
	}
	if strings.Contains(msg, "stack overflow") || strings.Contains(msg, "registry overflow") || strings.Contains(msg, "callstack overflow") {
		detail := strings.TrimPrefix(strings.TrimPrefix(msg, at), ": ")
		return fail(err, "stack overflow (too deep a recursion?): %s", detail)
	}
	if !strings.HasPrefix(msg, sc.chunk) && !strings.HasPrefix(msg, rs.set.chunkName("lib")) {
		msg = sc.chunk + ": " + msg
	}
	return &Error{Task: sc.name, Message: msg, Traceback: trace, Err: err}
}

// errorMessage renders the error object: strings as they are, tables as
// JSON where possible, cut to maxErrorBytes.
func (rs *runState) errorMessage(api *lua.ApiError) string {
	msg := rs.renderError(api)
	if len(msg) <= maxErrorBytes {
		return msg
	}
	cut := maxErrorBytes
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (error message cut: %d bytes in all)", msg[:cut], len(msg))
}

func (rs *runState) renderError(api *lua.ApiError) string {
	switch v := api.Object.(type) {
	case lua.LString:
		return string(v)
	case *lua.LTable:
		if b, err := rs.encodeJSON(nil, v); err == nil {
			return "error " + b
		}
	case nil:
		if api.Cause != nil {
			return api.Cause.Error()
		}
	}
	return "error " + lua.LVAsString(api.Object)
}
