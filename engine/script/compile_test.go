package script

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// TestStripDeclarations: only literal declaration fields of a returned
// table constructor are left out of the runs' code.
func TestStripDeclarations(t *testing.T) {
	cases := []struct {
		name, src string
		stripped  bool
		keep      []string // field names left in the returned table
	}{
		{"literal lists and timeout", `return { requires = {"a", "b"}, optional = {}, provides = {'c'}, timeout = 20, execute = function() end }`,
			true, []string{"execute"}},
		{"revert kept", `return { provides = {"c"}, execute = function() end, revert = function() end }`,
			true, []string{"execute", "revert"}},
		{"list from a local", `local req = {"a"} return { requires = req, execute = function() end }`,
			false, []string{"requires", "execute"}},
		{"computed item", `return { requires = {"a", ("b"):upper()}, provides = {"c"}, execute = function() end }`,
			true, []string{"requires", "execute"}},
		{"computed timeout", `return { timeout = 2 * 10, execute = function() end }`, false, nil},
		{"keyed item", `return { requires = {x = "a"}, execute = function() end }`, false, nil},
		{"returned local", `local M = { requires = {"a"}, execute = function() end } return M`, false, nil},
		{"no return", `local x = 1`, false, nil},
		{"two values", `return { requires = {"a"} }, 1`, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts, err := parseChunk([]byte(c.src), "scripts/x.lua")
			if err != nil {
				t.Fatal(err)
			}
			if got := stripDeclarations(stmts); got != c.stripped {
				t.Fatalf("stripped = %v, want %v", got, c.stripped)
			}
			if c.keep == nil {
				return
			}
			proto, err := compileChunk(stmts, "scripts/x.lua")
			if err != nil {
				t.Fatal(err)
			}
			s, _ := newSet(Options{})
			rs := s.newState()
			defer rs.L.Close()
			rs.L.Push(rs.L.NewFunctionFromProto(proto))
			if err := rs.L.PCall(0, 1, nil); err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, f := range []string{"requires", "optional", "provides", "timeout", "execute", "revert"} {
				if rs.L.GetField(rs.L.Get(-1), f).String() != "nil" {
					fields = append(fields, f)
				}
			}
			if strings.Join(fields, ",") != strings.Join(c.keep, ",") {
				t.Fatalf("fields %v, want %v", fields, c.keep)
			}
		})
	}
}

// A script whose literal declarations are left out of its runs still
// declares them (kaifuku check, flows) and still has its provides enforced.
func TestStrippedScriptKeepsItsContract(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"p.lua": `
local calls = 0
return {
  requires = {"instance_uuid"},
  optional = {"host_name"},
  provides = {"out"},
  timeout = 7,
  execute = function(store)
    calls = calls + 1
    if store.instance_uuid == "missing" then return {} end
    return {out = store.instance_uuid .. ":" .. calls}
  end,
}`})
	sp, err := f.reg.Lookup("p")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sp.Requires, ",") != "instance_uuid" || strings.Join(sp.Optional, ",") != "host_name" ||
		strings.Join(sp.Provides, ",") != "out" || sp.Timeout.Seconds() != 7 {
		t.Fatalf("spec %+v", sp)
	}
	res := f.run(engine.Store{"instance_uuid": "i-1"}, "p")
	if res.Err != nil || res.Store["out"] != "i-1:1" {
		t.Fatalf("run: %v %v", res.Err, res.Store)
	}
	res = f.run(engine.Store{"instance_uuid": "missing"}, "p")
	if !strings.Contains(errText(res.Err), `scripts/p.lua: did not return "out", which it declares in provides`) {
		t.Fatalf("err = %v", res.Err)
	}
}

// Errors in a script whose declarations were left out still name the
// script's own lines.
func TestStrippedScriptErrorLines(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"lines.lua": `return {
  requires = {
    "instance_uuid",
  },
  provides = {"x"},
  timeout = 5,
  execute = function(store)
    local t = nil
    return {x = t.field}
  end,
}`})
	res := f.run(nil, "lines")
	if !strings.Contains(errText(res.Err), "scripts/lines.lua:9: attempt to index a non-table object(nil) with key 'field'") {
		t.Fatalf("err = %v", res.Err)
	}
}

// The main chunk has no "arg" table (as in Lua 5.1), in load and in runs.
func TestNoArgTableInMainChunk(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"a.lua": `
assert(arg == nil, "arg at top level")
return {
  provides = {"n"},
  execute = function(store)
    local function count(...) return select("#", ...) end
    local function legacy(...) return arg.n end
    return {n = count(1, 2) + legacy(1, 2, 3)}
  end,
}`})
	res := f.run(nil, "a")
	if res.Err != nil || res.Store["n"] != 5.0 {
		t.Fatalf("run: %v %v", res.Err, res.Store)
	}
}

// TestCacheReusesUnchangedFiles: a second load through the same cache reuses
// the compiled code of unchanged files, compiles changed ones again, and
// still runs every top level in its own states.
func TestCacheReusesUnchangedFiles(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua":          `local m = require("m") return { provides = {"v"}, execute = function() return {v = m.v} end }`,
		"b.lua":          `seen = (seen or 0) + 1 return { provides = {"seen"}, execute = function() return {seen = seen} end }`,
		"lib/m.lua":      `return {v = "one"}`,
		"broken.lua":     `return {`,
		"not_lua.txt":    `x`,
		"lib/x_test.lua": `return {}`,
	})
	var cache Cache
	load := func() (map[string]*script, error) {
		specs, err := Load(Options{Dir: dir, Cache: &cache})
		out := map[string]*script{}
		for _, sp := range specs {
			tk, err := sp.New(conf.Section{})
			if err != nil {
				t.Fatal(err)
			}
			out[sp.Name] = tk.(*task).script
		}
		return out, err
	}
	first, err := load()
	if err == nil || !strings.Contains(err.Error(), "scripts/broken.lua") {
		t.Fatalf("first load: %v", err)
	}
	second, err := load()
	if err == nil || !strings.Contains(err.Error(), "scripts/broken.lua") {
		t.Fatalf("a broken file must stay an error: %v", err)
	}
	for _, name := range []string{"a", "b"} {
		if first[name].proto != second[name].proto || first[name].runProto != second[name].runProto {
			t.Errorf("%s was compiled again", name)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "m.lua"), []byte(`return {v = "two"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.lua"), []byte(`return { execute = function() end }`), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{Dir: dir, Cache: &cache}, nil)
	for i := 0; i < 2; i++ {
		res := f.run(nil, "a", "b", "broken")
		if res.Err != nil || res.Store["v"] != "two" || res.Store["seen"] != 1.0 {
			t.Fatalf("run %d: %v %v", i, res.Err, res.Store)
		}
	}
}

// TestIdleStatesSurviveCollections: released states are kept for the next
// runs even across garbage collections (sync.Pool alone may drop them), and
// a tainted state is never kept.
func TestIdleStatesSurviveCollections(t *testing.T) {
	s, _ := newSet(Options{})
	var states []*runState
	for i := 0; i < maxIdleStates+2; i++ {
		states = append(states, s.getState())
	}
	for _, rs := range states {
		rs.release()
	}
	runtime.GC()
	runtime.GC()
	kept := map[*runState]bool{}
	for i := 0; i < maxIdleStates; i++ {
		kept[s.getState()] = true
	}
	for _, rs := range states[:maxIdleStates] {
		if !kept[rs] {
			t.Fatalf("state %p was not kept", rs)
		}
	}
	for rs := range kept {
		rs.release()
	}

	bad := s.getState()
	bad.tainted = true
	bad.release()
	for i := 0; i < maxIdleStates+1; i++ {
		if rs := s.getState(); rs == bad {
			t.Fatal("a tainted state was reused")
		}
	}
}
