package script

import (
	lua "github.com/yuin/gopher-lua"
)

// Sandbox is a Lua state with what every Lua task sees, for Lua code that
// runs beside the tasks instead of as one: the operators' tests of their
// tasks (kaifuku test). It has the same base functions, the same restricted
// string, table, math and os libraries, the same json module (json.null,
// json.object, json.array) and the same conversion between Lua and the
// flow store's Go values, so that a test reads and builds values exactly as
// its task does. The functions that act for a running task (http, smtp,
// cloud, log, print, progress, sleep, skip, require) raise an error saying
// that no task is running; the state's owner may shadow them with globals of
// its own.
//
// The state's globals (what SetGlobal writes and code loaded with
// NewFunctionFromProto sees) are a table of their own, over the read-only
// libraries. A Sandbox is not safe for concurrent use.
type Sandbox struct {
	rs *runState
}

// NewSandbox returns a fresh Sandbox; Close releases it.
func NewSandbox() *Sandbox {
	// A set without scripts, cloud, HTTP client or mailer: nothing in the
	// state runs as a task.
	rs := (&set{}).newState()
	env := rs.L.CreateTable(0, 16)
	env.RawSetString("_G", env)
	env.Metatable = rs.envMT
	rs.L.G.Global = env
	rs.L.Env = env
	return &Sandbox{rs: rs}
}

// State returns the sandbox's Lua state.
func (sb *Sandbox) State() *lua.LState { return sb.rs.L }

// Close releases the state.
func (sb *Sandbox) Close() { sb.rs.L.Close() }

// ToLua converts a JSON-shaped Go value to Lua as a task receives the flow
// store: lists become sequences, maps tables with string keys, empty lists
// and maps keep their kind for json.encode, a nil list item is json.null and
// a nil map member is absent. Other Go values go through their JSON form.
func (sb *Sandbox) ToLua(v any) (lua.LValue, error) {
	return sb.rs.toLua(v, 0)
}

// FromLua converts a Lua value to the store's JSON shape (string, float64,
// bool, nil, []any, map[string]any) as a task's provided values are: json.null
// is nil, an empty table is a list unless json.object marked it. Mixed keys,
// gaps, NaN, functions and userdata are errors saying where they are.
func (sb *Sandbox) FromLua(v lua.LValue) (any, error) {
	return sb.rs.fromLua(nil, v, 0)
}

// EncodeJSON encodes a Lua value as json.encode does.
func (sb *Sandbox) EncodeJSON(v lua.LValue) (string, error) {
	return sb.rs.encodeJSON(nil, v)
}

// jsonNull is the value of json.null's userdata in every state, so that
// IsNull knows it in any of them.
type jsonNull struct{}

// IsNull reports whether v is json.null, of a Sandbox or of a task's state.
func IsNull(v lua.LValue) bool {
	ud, ok := v.(*lua.LUserData)
	return ok && ud.Value == jsonNull{}
}
