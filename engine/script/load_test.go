package script

import (
	"errors"
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

func loadErr(t *testing.T, files map[string]string) string {
	t.Helper()
	_, err := Load(Options{Dir: writeScripts(t, files)})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	return err.Error()
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"syntax error", "return {\n  execute = function(store)\n    local x = = 1\n  end,\n}\n",
			"scripts/bad.lua:3:15: syntax error near '='"},
		{"unclosed function", "return {\n  execute = function(store)\n", "scripts/bad.lua: syntax error at end of file"},
		{"runtime error at load", "local x = nil\nlocal y = x.field\nreturn {}", "scripts/bad.lua:2: attempt to index a non-table object(nil) with key 'field'"},
		{"returns nothing", "local x = 1", "scripts/bad.lua: the script must end with `return { requires = {...}, provides = {...}, execute = function(store) ... end }`, but it returned nothing"},
		{"returns a string", "return 'x'", "but it returned a string"},
		{"no execute", "return { provides = {'a'} }", "scripts/bad.lua: execute must be a function(store), not nil"},
		{"typo", "return { provide = {'a'}, execute = function() end }", `unknown field provide in the returned table (did you mean "provides"?)`},
		{"requires not a list", "return { requires = 'host_name', execute = function() end }", "requires must be a list of store keys, not a string"},
		{"requires a map", "return { requires = {a = 'b'}, execute = function() end }", `requires must be a list like {"host_name", "instance_list"}`},
		{"duplicate key", "return { provides = {'a', 'a'}, execute = function() end }", `provides lists "a" twice`},
		{"bad timeout", "return { timeout = -1, execute = function() end }", "timeout must be a number of seconds between 0 and 86400, not -1"},
		{"bad revert", "return { revert = 1, execute = function() end }", "revert must be a function(store, err), not number"},
		{"endless top level", "while true do end", "scripts/bad.lua:1: timeout"},
		{"http at load", "http.request{url = 'http://x/'} return {}", "scripts/bad.lua:1: http.request cannot be called while the script loads; call it from execute"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "endless top level" && testing.Short() {
				t.Skip("takes the 5 s load timeout")
			}
			got := loadErr(t, map[string]string{"bad.lua": c.src})
			if !strings.Contains(got, c.want) {
				t.Fatalf("error %q does not contain %q", got, c.want)
			}
		})
	}
}

// TestLoadCollectsEveryError and still returns the good scripts.
func TestLoadCollectsEveryError(t *testing.T) {
	specs, err := Load(Options{Dir: writeScripts(t, map[string]string{
		"good.lua":          `return { requires = {"host_name"}, optional = {"instance_list"}, provides = {"x"}, execute = function() end }`,
		"bad1.lua":          `return {`,
		"bad2.lua":          `return { execute = 1 }`,
		"good_test.lua":     `this is a test file for kaifuku test and is not loaded as a task`,
		"lib/broken.lua":    `local = 1`,
		"notes.txt":         `not a script`,
		"sub/ignored.lua":   `not loaded: only files directly in the directory are tasks`,
		"lib/util/text.lua": `return {}`,
	})})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"scripts/bad1.lua", "scripts/bad2.lua: execute must be a function", "scripts/lib/broken.lua:1:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "good_test") || strings.Contains(err.Error(), "ignored") {
		t.Errorf("test files or sub-directories were loaded: %v", err)
	}
	if len(specs) != 1 || specs[0].Name != "good" {
		t.Fatalf("specs %+v", specs)
	}
	s := specs[0]
	if s.Kind != "lua" || !strings.HasSuffix(s.Source, "scripts/good.lua") || strings.Join(s.Requires, ",") != "host_name" ||
		strings.Join(s.Optional, ",") != "instance_list" || strings.Join(s.Provides, ",") != "x" {
		t.Fatalf("spec %+v", s)
	}
}

func TestLoadWithoutDirectory(t *testing.T) {
	specs, err := Load(Options{Dir: t.TempDir() + "/missing"})
	if err != nil || len(specs) != 0 {
		t.Fatalf("%v %v", specs, err)
	}
}

// TestNameClash: a script named like a built-in task is an error naming both.
func TestNameClash(t *testing.T) {
	reg := engine.NewRegistry()
	reg.Register(engine.Spec{Name: "start_instance_task", New: func(conf.Section) (engine.Task, error) { return nil, nil }})
	err := Register(reg, Options{Dir: writeScripts(t, map[string]string{
		"start_instance_task.lua": luaTask(""),
		"fine.lua":                luaTask(""),
	})})
	if err == nil || !strings.Contains(err.Error(), `task "start_instance_task" from Lua script `) ||
		!strings.Contains(err.Error(), "scripts/start_instance_task.lua clashes with the built-in task start_instance_task") {
		t.Fatalf("error %v", err)
	}
	if _, err := reg.Lookup("fine"); err != nil {
		t.Fatalf("the other script was not registered: %v", err)
	}
}

// TestPlanValidatesLuaTasks: engine.Plan checks Lua tasks' declared keys
// statically, like Go tasks'.
func TestPlanValidatesLuaTasks(t *testing.T) {
	reg := engine.NewRegistry()
	if err := Register(reg, Options{Dir: writeScripts(t, map[string]string{
		"needs_list.lua": `return { requires = {"instance_list"}, execute = function() end }`,
	})}); err != nil {
		t.Fatal(err)
	}
	spec := conf.FlowSpec{Kind: conf.FlowInstance}
	spec.Phases[conf.Pre] = []conf.TaskRef{{Name: "needs_list"}}
	_, err := engine.Plan(reg, spec)
	if err == nil || !strings.Contains(err.Error(), `task "needs_list" requires "instance_list"`) {
		t.Fatalf("error %v", err)
	}
}

func TestRuntimeErrors(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"boom.lua": `
local function helper(x)
  return x.missing.field
end
return {
  execute = function(store)
    local v = helper({})
    return v
  end,
}`,
		"uses_lib.lua": `
local text = require("util.text")
return { execute = function() text.explode() end }`,
		"lib/util/text.lua": `
local M = {}
function M.explode()
  error("exploded in the library")
end
return M`,
		"table_error.lua": `return { execute = function() error({code = 42, reason = "bad"}) end }`,
		"level0.lua":      `return { execute = function() error("plain message", 0) end }`,
	})
	cases := map[string]string{
		"boom":        "scripts/boom.lua:3: attempt to index a non-table object(nil) with key 'field'",
		"uses_lib":    "scripts/lib/util/text.lua:4: exploded in the library",
		"table_error": `scripts/table_error.lua: error {"code":42,"reason":"bad"}`,
		"level0":      "scripts/level0.lua: plain message",
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			f.logs.Reset()
			res := f.run(nil, name)
			if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
				t.Fatalf("error %v; want %q", res.Err, want)
			}
			var le *Error
			if !errors.As(res.Err, &le) || le.Task != name {
				t.Fatalf("error %T %+v", res.Err, le)
			}
			var traced bool
			for _, e := range f.logs.AllEntries() {
				if e.Message == "lua error traceback" && e.Data["task"] == name && e.Data["notification_uuid"] == "n-1" {
					traced = strings.HasPrefix(e.Data["traceback"].(string), "stack traceback:")
				}
			}
			if !traced {
				t.Error("no traceback in the log")
			}
		})
	}
	// The traceback walks through the helper.
	res := f.run(nil, "boom")
	var le *Error
	errors.As(res.Err, &le)
	if !strings.Contains(le.Traceback, "scripts/boom.lua:3: in function 'helper'") {
		t.Fatalf("traceback:\n%s", le.Traceback)
	}
}

// TestSkipAndRevert: skip() ends the flow as finished without reverting;
// an error reverts the tasks that ran, calling revert(store, err).
func TestSkipAndRevert(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"skipper.lua": `return { execute = function() local ok = pcall(skip, "nothing to do for this host") error("not reached") end }`,
		"undoer.lua": `return {
  provides = {"done"},
  execute = function() return {done = true} end,
  revert = function(store, err)
    log.warn("reverting", {cause = err, done = store.done})
  end,
}`,
		"failer.lua": `return { execute = function() error("later failure") end }`,
		"remember.lua": `local did
return {
  execute = function(store) did = "stopped " .. store.instance_uuid end,
  revert = function() log.info("undoing", {did = did}) end,
}`,
	})
	res := f.run(nil, "skipper")
	if !engine.IsSkip(res.Err) || res.Status != engine.StatusFinished || res.Err.Error() != "nothing to do for this host" {
		t.Fatalf("skip: %v %s", res.Err, res.Status)
	}
	res = f.run(nil, "undoer", "failer")
	if res.Status != engine.StatusError {
		t.Fatalf("status %s", res.Status)
	}
	var reverted bool
	for _, e := range f.logs.AllEntries() {
		if e.Message == "reverting" && e.Data["task"] == "undoer" && strings.Contains(e.Data["cause"].(string), "scripts/failer.lua:1: later failure") {
			reverted = true
		}
	}
	if !reverted || res.Tasks[0].State != engine.StateReverted || res.Tasks[1].State != engine.StateReverted {
		t.Fatalf("revert did not run: %+v", res.Tasks)
	}
	// execute and revert of one run share the script's top-level locals.
	f.logs.Reset()
	f.run(nil, "remember", "failer")
	var undid string
	for _, e := range f.logs.AllEntries() {
		if e.Message == "undoing" {
			undid, _ = e.Data["did"].(string)
		}
	}
	if undid != "stopped 11111111-2222-3333-4444-555555555555" {
		t.Fatalf("revert saw %q", undid)
	}
}
