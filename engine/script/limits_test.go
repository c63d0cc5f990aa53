package script

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

func timed(timeout float64, body string) string {
	return fmt.Sprintf("return {\n  timeout = %v,\n  execute = function(store)\n%s\n  end,\n}\n", timeout, body)
}

const okScript = `return { provides = {"ok"}, execute = function() return {ok = true} end }`

// TestRunaways: every runaway ends with a clear error within a bound well
// above its timeout, and a later task still runs.
func TestRunaways(t *testing.T) {
	cases := []struct {
		name, body, want string
		// capped marks a case stopped by a size cap, not the timeout: it
		// gets a long timeout so that a loaded machine cannot turn the cap's
		// error into a timeout.
		capped bool
	}{
		{"endless loop", `while true do end`, "timeout: the task did not finish within 1s", false},
		{"loop in pcall", `while true do pcall(function() while true do end end) end`, "timeout", false},
		{"endless tail calls", `local function f() return f() end return f()`, "timeout", false},
		{"sort with a looping comparator", `table.sort({3, 2, 1}, function(a, b) while true do end end)`, "timeout", false},
		{"catastrophic find", `local s = ("a"):rep(40) .. "b"; s:find(("a*"):rep(40) .. "c")`, "timeout", false},
		{"catastrophic match", `local s = ("a"):rep(40); s:match(("a?"):rep(40) .. ("a"):rep(40) .. "b")`, "timeout", false},
		{"catastrophic gsub", `local s = ("a"):rep(40) .. "b"; s:gsub(("a*"):rep(40) .. "c", "x")`, "timeout", false},
		{"catastrophic gmatch", `local s, p = ("a"):rep(40) .. "b", ("a*"):rep(40) .. "c"; for m in s:gmatch(p) do end`, "timeout", false},
		{"gsub callback loops", `("abc"):gsub("%w", function() while true do end end)`, "timeout", false},
		{"huge string.rep", `local s = ("x"):rep(1024 * 1024 * 1024)`, "string.rep: the result would be 1073741824 bytes, more than the 16 MiB limit", true},
		{"string.rep with separator", `local s = ("x"):rep(10 * 1024 * 1024, "yy")`, "more than the 16 MiB limit", true},
		{"gsub growth", `local s = ("x"):rep(1024); s = s:gsub("x", ("y"):rep(20000))`, "string.gsub: the result is larger than the 16 MiB limit", true},
		{"huge format width", `local s = string.format("%999999d", 1)`, "invalid format (width or precision too long)", true},
		{"string.format of huge strings", `local s = ("x"):rep(16 * 1024 * 1024); local f = ("%s"):rep(40); string.format(f, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s)`, "string.format: the result could be", true},
		{"string.format of one 16 MiB %q", `local s = ("x"):rep(16 * 1024 * 1024); string.format("%q", s)`, "more than the 16 MiB limit", true},
		{"os.date with a huge format", `os.date(("%c"):rep(4 * 1024 * 1024))`, "os.date: the format is 8388608 bytes, more than the 64 KiB limit", true},
		{"table.concat growth", `local t = {} for i = 1, 20 do t[i] = ("x"):rep(1024 * 1024) end; table.concat(t)`, "table.concat: the result is larger than the 16 MiB limit", true},
		{"one '..' of forty 1 MiB operands", `local s = ("x"):rep(1024 * 1024); local t = s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s`, "the result of '..' would be 41943040 bytes, more than the 16 MiB limit", true},
		{"doubling with '..'", `local s = "x" while true do s = s .. s end`, "more than the 16 MiB limit", true},
		{"'..' in a nested function", `local function grow(s) return function() return s .. s .. s end end local s = "x" for i = 1, 40 do s = grow(s)() end`, "the result of '..' would be", true},
		{"deep recursion", `local function f(n) return 1 + f(n + 1) end return f(1)`, "stack overflow", false},
		{"deep recursion in pcall", `local function f(n) local ok, err = pcall(f, n + 1) if not ok then error(err, 0) end end f(1)`, "stack overflow", false},
		{"many arguments", `local t = {} for i = 1, 100000 do t[i] = i end unpack(t)`, "stack overflow", false},
		{"cyclic json", `local t = {} t.t = t json.encode(t)`, "tables nested more than 100 levels deep (is there a cycle?)", false},
	}
	files := map[string]string{"ok.lua": okScript}
	for i, c := range cases {
		timeout := 1.0
		if c.capped {
			timeout = 30
		}
		files[fmt.Sprintf("run%02d.lua", i)] = timed(timeout, c.body)
	}
	f := newFixture(t, Options{}, files)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			res := f.run(nil, fmt.Sprintf("run%02d", i))
			took := time.Since(start)
			if res.Err == nil {
				t.Fatal("the runaway succeeded")
			}
			if !strings.Contains(res.Err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", res.Err, c.want)
			}
			t.Logf("%v after %v", res.Err, took)
			// A capped case is bounded by its own 30 s timeout: the error
			// check above fails if it ran into it.
			if !c.capped && took > 8*time.Second {
				t.Errorf("took %v; the timeout is 1s", took)
			}
			if res.Status != engine.StatusError {
				t.Errorf("status %s", res.Status)
			}
			if res := f.run(nil, "ok"); res.Err != nil {
				t.Fatalf("a later task failed: %v", res.Err)
			}
		})
	}
}

// TestHugeErrorMessageIsCut: a 16 MiB error() message is cut to a few KiB,
// with its size said, before it reaches the result, the store or the log.
func TestHugeErrorMessageIsCut(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"shout.lua": timed(30, `error(("x"):rep(16 * 1024 * 1024))`)})
	res := f.run(nil, "shout")
	if res.Err == nil {
		t.Fatal("the task succeeded")
	}
	msg := res.Err.Error()
	if len(msg) > 2*maxErrorBytes || !strings.Contains(msg, "… (error message cut: 167772") {
		t.Fatalf("error of %d bytes, ending %q", len(msg), msg[max(0, len(msg)-120):])
	}
}

// TestTimeoutIsTyped: the runner and callers see context.DeadlineExceeded.
func TestTimeoutIsTyped(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"spin.lua": timed(0.05, `while true do end`)})
	res := f.run(nil, "spin")
	var le *Error
	if !errors.As(res.Err, &le) || !strings.HasPrefix(le.Message, "scripts/spin.lua:4: timeout") {
		t.Fatalf("error %v (%T)", res.Err, res.Err)
	}
	if !strings.Contains(res.Err.Error(), `task "spin" timed out after 50ms`) {
		t.Fatalf("the runner did not see a deadline: %v", res.Err)
	}
}

// TestSleepUsesTheEngineClock: sleep advances the fake clock at once; a
// sleep past the timeout fails with a timeout at the deadline.
func TestSleepUsesTheEngineClock(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"nap.lua":  timed(30, `sleep(10) return nil`),
		"long.lua": timed(30, `local ok = pcall(sleep, 60) while true do end`),
	})
	start, realStart := f.clock.Now(), time.Now()
	if res := f.run(nil, "nap"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := f.clock.Now().Sub(start); got != 10*time.Second {
		t.Fatalf("fake time advanced %v, want 10s", got)
	}
	res := f.run(nil, "long")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "scripts/long.lua:4: timeout: the task did not finish within 30s") {
		t.Fatalf("error %v", res.Err)
	}
	if got := f.clock.Now().Sub(start); got != 40*time.Second {
		t.Fatalf("fake time advanced %v, want 40s (10s nap + 30s to the deadline)", got)
	}
	if took := time.Since(realStart); took > 5*time.Second {
		t.Fatalf("fake sleeps took %v of real time", took)
	}
}

// TestDefaultTimeout comes from [lua] task_timeout unless the script sets one.
func TestDefaultTimeout(t *testing.T) {
	cfg := conf.Defaults()
	cfg.Lua.TaskTimeout = 7 * time.Second
	specs, err := Load(Options{Dir: writeScripts(t, map[string]string{
		"a.lua": luaTask(""),
		"b.lua": timed(2.5, ""),
	}), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Duration{}
	for _, s := range specs {
		got[s.Name] = s.Timeout
	}
	if got["a"] != 7*time.Second || got["b"] != 2500*time.Millisecond {
		t.Fatalf("timeouts %v", got)
	}
	specs, _ = Load(Options{Dir: writeScripts(t, map[string]string{"a.lua": luaTask("")})})
	if specs[0].Timeout != DefaultTaskTimeout {
		t.Fatalf("default timeout %v", specs[0].Timeout)
	}
}

// TestMemoryGuard: a task that grows a table without bound is stopped by
// the heap watchdog with "memory budget exceeded", and later tasks run.
func TestMemoryGuard(t *testing.T) {
	runtime.GC()
	heap := readHeap()
	cfg := conf.Defaults()
	cfg.Lua.MemoryLimitMiB = int(heap>>20) + 96
	f := newFixture(t, Options{Config: cfg}, map[string]string{
		"hog.lua": timed(60, `local t = {} local i = 0
      while true do i = i + 1; t[i] = ("x"):rep(1024) .. i end`),
		"ok.lua": okScript,
	})
	start := time.Now()
	res := f.run(nil, "hog")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "memory budget exceeded") {
		t.Fatalf("error %v", res.Err)
	}
	if !errors.Is(res.Err, ErrMemoryBudget) {
		t.Fatalf("error %v does not wrap ErrMemoryBudget", res.Err)
	}
	t.Logf("%v after %v", res.Err, time.Since(start))
	runtime.GC()
	if res := f.run(nil, "ok"); res.Err != nil {
		t.Fatalf("a later task failed: %v", res.Err)
	}
}
