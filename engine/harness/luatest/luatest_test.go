package luatest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/engine/testbed"
)

// writeFiles writes name → content into a fresh directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	return testbed.WriteFiles(t, t.TempDir(), files)
}

func run(t *testing.T, opts Options) (*Report, string, error) {
	t.Helper()
	var out bytes.Buffer
	opts.Out = &out
	opts.Builtins = builtin.Register
	rep, err := Run(context.Background(), opts)
	return rep, out.String(), err
}

const passing = `
local calls = {}

describe("outer", function()
  before_each(function() table.insert(calls, "before outer") end)
  after_each(function() table.insert(calls, "after outer") end)

  describe("inner", function()
    before_each(function() table.insert(calls, "before inner") end)
    after_each(function() table.insert(calls, "after inner") end)

    it("runs hooks outside in, then inside out", function()
      assert.same({"before outer", "before inner"}, calls)
    end)
  end)

  it("sees the hooks of the previous test", function()
    assert.same({"before outer", "before inner", "after inner", "after outer", "before outer"}, calls)
  end)

  pending("is not written yet")
  it("has no body yet")
end)

it("compares values", function()
  assert.equals(3, 1 + 2)
  assert.equals("a", "a")
  local t = {}
  assert.equals(t, t)
  assert.same({a = {1, 2, {b = true}}, c = "x"}, {c = "x", a = {1, 2, {b = true}}})
  assert.truthy(0)
  assert.truthy("")
  assert.falsy(nil)
  assert.falsy(false)
  assert.is_nil(nil)
  assert.matches("^scripts/.-%.lua:%d+", "scripts/a.lua:12: boom")
  assert.matches("x.lua:3: attempt", "x.lua:3: attempt to call nil")
  assert.has_error(function() error("config: to is required") end)
  assert.has_error(function() error("config: to is required") end, "to is required")
  assert.has_error(function() error({code = 42}) end)
  assert(true, "plain assert still works")
  assert.same({1, 2}, json.decode(json.encode({1, 2})))
end)
`

func TestPassingSuite(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a_test.lua": passing})
	rep, out, err := run(t, Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 3 || rep.Failed != 0 || rep.Skipped != 2 {
		t.Fatalf("counts %d/%d/%d, output:\n%s", rep.Passed, rep.Failed, rep.Skipped, out)
	}
	if !strings.HasSuffix(out, "3 passed, 0 failed, 2 skipped\n") {
		t.Errorf("closing line wrong:\n%s", out)
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("failures printed:\n%s", out)
	}
	want := []string{"outer inner runs hooks outside in, then inside out", "outer sees the hooks of the previous test",
		"outer is not written yet", "outer has no body yet", "compares values"}
	for i, r := range rep.Results {
		if r.Name != want[i] {
			t.Errorf("test %d is named %q, want %q", i, r.Name, want[i])
		}
	}
}

// Every test here fails; each failure must name the assertion's line and say
// what was expected.
const failing = `describe("assertions", function()
  it("equals", function()
    assert.equals("ops@example.com", "op@example.com")
  end)
  it("equals types", function()
    assert.equals(1, "1")
  end)
  it("same tables", function()
    assert.same({to = {"a@x", "b@x"}, subject = "host down"}, {to = {"a@x", "c@x"}, subject = "host down"})
  end)
  it("truthy", function() assert.truthy(nil) end)
  it("falsy", function() assert.falsy("x") end)
  it("is_nil", function() assert.is_nil(0) end)
  it("matches", function() assert.matches("^ok", "not ok") end)
  it("has_error without error", function() assert.has_error(function() end) end)
  it("has_error with another message", function()
    assert.has_error(function() error("boom") end, "bang")
  end)
  it("runtime error", function()
    local t = nil
    return t.x
  end)
  it("message", function() assert.equals(1, 2, "the count") end)
  it("equals tables", function() assert.equals({1}, {1}) end)
end)
`

func TestFailingAssertionsNameLineAndValues(t *testing.T) {
	dir := writeFiles(t, map[string]string{"f_test.lua": failing})
	rep, out, err := run(t, Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "f_test.lua")
	want := []struct{ line, msg string }{
		{"3", `expected "ops@example.com", got "op@example.com"`},
		{"6", `expected 1 (number), got "1" (string)`},
		{"9", `tables differ (- expected, + actual):`},
		{"11", `expected a truthy value, got nil`},
		{"12", `expected a falsy value (nil or false), got "x"`},
		{"13", `expected nil, got 0 (number)`},
		{"14", `expected a string matching "^ok", got "not ok"`},
		{"15", `expected an error, but the function returned normally`},
		{"17", `expected an error matching "bang", got "` + path + `:17: boom"`},
		{"21", `attempt to index a non-table object(nil) with key 'x'`},
		{"23", `the count: expected 1, got 2`},
		{"24", `expected the very same table, got another one with equal contents`},
	}
	if rep.Failed != len(want) || rep.Passed != 0 {
		t.Fatalf("%d passed, %d failed; output:\n%s", rep.Passed, rep.Failed, out)
	}
	for i, w := range want {
		r := rep.Results[i]
		if r.Failure.Where != path+":"+w.line {
			t.Errorf("%s: failure at %s, want line %s", r.Name, r.Failure.Where, w.line)
		}
		if !strings.HasPrefix(r.Failure.Message, w.msg) {
			t.Errorf("%s: message %q, want %q", r.Name, r.Failure.Message, w.msg)
		}
		line := "FAIL " + r.Name + " (" + path + ":" + w.line + "): " + w.msg
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if rep.Results[9].Status != Errored || rep.Results[0].Status != Failed {
		t.Errorf("statuses: %v, %v", rep.Results[9].Status, rep.Results[0].Status)
	}
	diff := "      to = {\n          \"a@x\",\n    -     \"b@x\",\n    +     \"c@x\",\n        },"
	if !strings.Contains(out, diff) {
		t.Errorf("table diff not shown as expected; output:\n%s", out)
	}
	if !strings.HasSuffix(out, "0 passed, 12 failed\n") {
		t.Errorf("closing line wrong:\n%s", out)
	}
}

func TestRunFilter(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a_test.lua": passing})
	rep, out, err := run(t, Options{Paths: []string{dir}, Run: regexp.MustCompile("outside in")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 || len(rep.Results) != 1 || !strings.HasSuffix(out, "1 passed, 0 failed\n") {
		t.Fatalf("filter ran %d tests:\n%s", len(rep.Results), out)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]struct {
		src  string
		want string
	}{
		"syntax":    {"describe('x', function()\n  it('y', function() assert.equals(1 1) end)\nend)\n", `bad_test.lua:2:`},
		"top level": {"local x = nil\nx.y = 1\n", `bad_test.lua:2: attempt to index`},
		"nested it": {"it('a', function() it('b', function() end) end)\n", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"bad_test.lua": c.src})
			rep, out, err := run(t, Options{Paths: []string{dir}})
			if c.want == "" {
				// it() inside a running test is the test's error, not a load error.
				if err != nil || rep.Failed != 1 || !strings.Contains(out, "declares tests") {
					t.Fatalf("err %v, output:\n%s", err, out)
				}
				return
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("want a load error, got %v (output %s)", err, out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
		})
	}
	if _, _, err := run(t, Options{Paths: []string{filepath.Join(t.TempDir(), "missing")}}); err == nil {
		t.Error("a missing path must be a load error")
	}
	if _, _, err := run(t, Options{Paths: []string{t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "no *_test.lua files") {
		t.Errorf("an empty directory: %v", err)
	}
}

func TestSandboxOfTestFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"s_test.lua": `
it("has no io, debug, loaders or process control", function()
  -- Test files run in the tasks' sandbox: what tasks cannot use raises.
  assert.has_error(function() return io.open end, "the io library is not available")
  assert.has_error(function() return debug.getinfo end, "the debug library is not available")
  assert.has_error(function() require("recovery") end, "require: no task is running")
  for _, name in ipairs({"dofile", "loadfile", "load", "loadstring"}) do
    assert.has_error(function() _G[name]("x") end, name .. " is disabled")
  end
  for _, name in ipairs({"execute", "exit", "getenv", "remove"}) do
    assert.has_error(function() os[name]("x") end, "os." .. name .. " is disabled")
  end
  assert.truthy(os.time())
  assert.has_error(function() string.dump(print) end, "string.dump is disabled")
  assert.has_error(function() string.upper = nil end, "library tables are read-only")
end)

it("caps '..' as tasks do", function()
  assert.has_error(function()
    local s = "x"
    for i = 1, 40 do s = s .. s end
  end, "the result of '..' would be 33554432 bytes, more than the 16 MiB limit")
end)

it("cannot replace the harness's functions", function()
  assert.has_error(function() harness.run_task = function() end end)
  assert.equals("function", type(harness.run_task))
end)
`})
	rep, out, err := run(t, Options{Paths: []string{dir}})
	if err != nil || rep.Passed != 3 {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}

func TestRealTimeLimitStopsARunawayTest(t *testing.T) {
	dir := writeFiles(t, map[string]string{"loop_test.lua": "it('loops', function()\n  while true do end\nend)\nit('runs after', function() end)\n"})
	began := time.Now()
	rep, out, err := run(t, Options{Paths: []string{dir}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(began) > 20*time.Second {
		t.Errorf("the limit did not stop the loop in time: %s", time.Since(began))
	}
	if rep.Failed != 1 || rep.Passed != 1 || !strings.Contains(out, "ran longer than 200ms") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestJUnit(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a_test.lua": passing, "f_test.lua": failing})
	rep, _, err := run(t, Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, buf.String())
	}
	if doc.Tests != 17 || doc.Failures != 11 || doc.Errors != 1 || doc.Skipped != 2 || len(doc.Suites) != 2 {
		t.Fatalf("counts: tests %d failures %d errors %d skipped %d suites %d", doc.Tests, doc.Failures, doc.Errors, doc.Skipped, len(doc.Suites))
	}
	for _, s := range doc.Suites {
		var f, e, sk int
		for _, c := range s.Cases {
			if c.Failure != nil {
				f++
			}
			if c.Error != nil {
				e++
			}
			if c.Skipped != nil {
				sk++
			}
		}
		if len(s.Cases) != s.Tests || f != s.Failures || e != s.Errors || sk != s.Skipped {
			t.Errorf("suite %s: attributes disagree with its cases", s.Name)
		}
	}
}

const skipper = `
return {
  requires = {"host_name"},
  execute = function(store)
    if store.host_name == "compute9" then skip("compute9 is being retired") end
    local s = cloud.get_server("6a1f2c3d-0000-4000-8000-000000000001")
    log.warn("seen", {host = s.host})
    return {}
  end,
}
`

const bridgeTests = `
local CLOUD = {
  hosts = {{name = "compute1", state = "down"}, {name = "compute2"}},
  servers = {{id = "6a1f2c3d-0000-4000-8000-000000000001", name = "web-1", host = "compute1",
              metadata = {HA_Enabled = "True"}}},
}

describe("harness", function()
  it("runs a task on a cloud given as a table", function()
    local r = harness.run_task("skipper", {store = {host_name = "compute1"}, cloud = CLOUD, time = "2030-02-03T04:05:06Z"})
    assert.truthy(r.ok)
    assert.equals("SUCCESS", r.state)
    assert.equals("warning", r.logs[2].level)
    assert.equals("seen", r.logs[2].message)
    assert.equals("compute1", r.logs[2].fields.host)
    assert.equals("skipper", r.logs[2].fields.task)
    assert.equals("web-1", r.cloud.servers[1].name)
  end)

  it("finds a log entry by level and plain text", function()
    local r = harness.run_task("skipper", {store = {host_name = "compute1"}, cloud = CLOUD})
    assert.equals(r.logs[2], harness.find_log(r, "warning", "seen"))
    assert.equals(r.logs[2], harness.find_log(r, nil, "see"))
    assert.is_nil(harness.find_log(r, "error", "seen"))
    assert.is_nil(harness.find_log(r, "warning", "se.n"))
    assert.has_error(function() harness.find_log({}, "info", "x") end, "which has logs")
  end)

  it("reports a skip", function()
    local r = harness.run_task("skipper", {store = {host_name = "compute9"}})
    assert.falsy(r.ok)
    assert.truthy(r.skipped)
    assert.equals("finished", r.status)
    assert.matches("compute9 is being retired", r.error)
  end)

  it("reads a fixture file relative to the test file", function()
    local r = harness.run_task("skipper", {store = {host_name = "compute1"}, cloud = "cloud.json"})
    assert.truthy(r.ok)
  end)

  it("names the fixture key that is wrong", function()
    assert.has_error(function()
      harness.run_task("skipper", {store = {host_name = "compute1"}, cloud = {hosts = {{nmae = "x"}}}})
    end, "opts.cloud.hosts[1]")
  end)

  it("names an unknown option", function()
    assert.has_error(function() harness.run_task("skipper", {stor = {}}) end, 'unknown option "stor" (did you mean "store"?)')
  end)

  it("runs the built-in flow", function()
    local r = harness.run_flow("host_auto", {cloud = CLOUD})
    assert.equals("finished", r.status)
    assert.same({"disable_compute_service_task", "prepare_HA_enabled_instances_task", "evacuate_instances_task"}, r.task_order)
    assert.equals("compute2", r.cloud.servers[1].host)
    assert.same({name = "compute1", reserved = false, on_maintenance = true}, r.segment[1])
  end)

  it("plays a notification body", function()
    local r = harness.run_flow({type = "VM", hostname = "compute1",
      payload = {event = "LIFECYCLE", instance_uuid = "6a1f2c3d-0000-4000-8000-000000000001", vir_domain_event = "STOPPED_FAILED"}},
      {cloud = {hosts = {{name = "compute1"}}, servers = CLOUD.servers}})
    assert.equals("finished", r.status)
    assert.same({"instance"}, r.flows)
    assert.same({"stop_instance_task", "start_instance_task", "confirm_instance_active_task"}, r.task_order)
  end)

  it("ignores what Masakari ignores", function()
    local r = harness.run_flow({type = "COMPUTE_HOST", hostname = "compute1", payload = {event = "STOPPED", host_status = "UNKNOWN"}}, {cloud = CLOUD})
    assert.equals("ignored", r.status)
    assert.same({}, r.tasks)
  end)
end)
`

func TestHarnessFromLua(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"skipper.lua":      skipper,
		"harness_test.lua": bridgeTests,
		"cloud.json":       `{"hosts": [{"name": "compute1"}], "servers": [{"id": "6a1f2c3d-0000-4000-8000-000000000001", "name": "web-1", "host": "compute1"}]}`,
	})
	rep, out, err := run(t, Options{Paths: []string{dir}, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Passed != 9 {
		t.Fatalf("output:\n%s", out)
	}
}

// echo hands its input back as the flow store gave it to the task, and as
// the task's json.encode writes it.
const echo = `
return {
  requires = {"value"},
  provides = {"echo", "encoded"},
  execute = function(store)
    return {echo = store.value, encoded = json.encode(store.value)}
  end,
}
`

// jsonTests use json.null, json.object and json.array as a task would, and
// need the test's json to be the task's: a value goes to the task and comes
// back unchanged, and both encode it alike.
const jsonTests = `
describe("json", function()
  it("is the tasks' json", function()
    local value = {list = {1, json.null, 3}, none = json.object(), nothing = json.array(), html = "<a & b>"}
    local encoded = '{"html":"<a & b>","list":[1,null,3],"none":{},"nothing":[]}'
    assert.equals(encoded, json.encode(value))
    local r = harness.run_task("echo", {store = {value = value}})
    assert.truthy(r.ok, r.error)
    assert.equals(encoded, r.provides.encoded)
    assert.same(value, r.provides.echo)
    assert.equals(json.null, r.provides.echo.list[2])
    assert.equals(encoded, json.encode(r.provides.echo))
    assert.equals(encoded, json.encode(json.decode(encoded)))
    assert.equals("null", tostring(json.null))
  end)

  it("refuses what the store refuses, saying where", function()
    assert.has_error(function()
      harness.run_task("echo", {store = {value = {1, nil, 3}}})
    end, "opts.store.value: list has a gap at index 2; use json.null")
  end)

  it("sends canned bodies as the tasks' json.encode writes them", function()
    local r = harness.run_task("relay", {http = {{method = "GET", url = "http://api.example.com/x", body = {a = json.array(), b = "<b>"}}}})
    assert.truthy(r.ok, r.error)
    assert.equals('{"a":[],"b":"<b>"}', r.provides.raw)
  end)
end)
`

const relay = `
return {
  provides = {"raw"},
  execute = function()
    local resp = http.request({method = "GET", url = "http://api.example.com/x"})
    return {raw = resp.body}
  end,
}
`

func TestTestsShareTheTasksJSON(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"echo.lua":      echo,
		"relay.lua":     relay,
		"json_test.lua": jsonTests,
	})
	rep, out, err := run(t, Options{Paths: []string{dir}, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Passed != 3 {
		t.Fatalf("output:\n%s", out)
	}
}

func TestFailuresShowJSONNull(t *testing.T) {
	dir := writeFiles(t, map[string]string{"null_test.lua": `
it("differs", function() assert.same({json.null, 2}, {1, 2}) end)
it("is not nil", function() assert.is_nil(json.null) end)
`})
	rep, out, err := run(t, Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 2 || !strings.Contains(out, "-   json.null,") || !strings.Contains(out, "expected nil, got json.null (userdata)") {
		t.Fatalf("json.null not shown as written; output:\n%s", out)
	}
}
