package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/testbed"
)

// kaifukuTest runs `kaifuku test args...` and returns its exit code and
// output (stdout and stderr as the user sees them).
func kaifukuTest(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetArgs(append([]string{"test"}, args...))
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	if err == nil {
		return 0, out.String()
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		return 2, out.String() + err.Error()
	}
	if ee.err != nil {
		out.WriteString(ee.err.Error())
	}
	return ee.code, out.String()
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	return testbed.WriteFiles(t, t.TempDir(), files)
}

const greetScript = `
return {
  requires = {"host_name"},
  provides = {"greeting"},
  timeout = 120,
  execute = function(store)
    local who = config.who
    if not who then error("[greet] who is required") end
    sleep(60)
    progress("greeted " .. who, 1.0)
    log.info("greeting", {who = who})
    return {greeting = "hello " .. who .. " from " .. store.host_name}
  end,
}
`

const greetTest = `describe("greet", function()
  it("greets after a minute of fake time", function()
    local r = harness.run_task("greet", {store = {host_name = "compute1"}, config = {who = "ops"}})
    assert.truthy(r.ok)
    assert.equals("hello ops from compute1", r.provides.greeting)
    assert.equals(60, r.duration)
    assert.equals("greeted ops", r.progress[1].message)
  end)

  it("refuses a missing setting", function()
    local r = harness.run_task("greet", {store = {host_name = "compute1"}, config = {}})
    assert.falsy(r.ok)
    assert.matches("who is required", r.error)
  end)

  pending("greets in Japanese")
end)
`

func TestKaifukuTestPassingSuite(t *testing.T) {
	dir := writeTree(t, map[string]string{"greet.lua": greetScript, "greet_test.lua": greetTest})
	began := time.Now()
	code, out := kaifukuTest(t, dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.HasSuffix(out, "\n2 passed, 0 failed, 1 skipped\n") && out != "2 passed, 0 failed, 1 skipped\n" {
		t.Errorf("output:\n%s", out)
	}
	// The test asserts 60 s of fake time; real time is only sanity-checked.
	if real := time.Since(began); real > 20*time.Second {
		t.Errorf("a 60 s fake sleep took %s of real time", real)
	}
}

func TestKaifukuTestVerbose(t *testing.T) {
	dir := writeTree(t, map[string]string{"greet.lua": greetScript, "greet_test.lua": greetTest})
	code, out := kaifukuTest(t, "-v", "--run", "fake time", dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	wantAll(t, "verbose output", out,
		"=== RUN   greet greets after a minute of fake time",
		"run_task greet: succeeded (state SUCCESS, 1m0s of fake time)",
		"progress 1.0 greeted ops",
		`log info "greeting"`,
		"who=ops",
		"--- PASS: greet greets after a minute of fake time",
		"1 passed, 0 failed\n",
	)
}

func TestKaifukuTestFailingAssertion(t *testing.T) {
	bad := strings.Replace(greetTest, `assert.equals("hello ops from compute1", r.provides.greeting)`,
		`assert.equals("hello world", r.provides.greeting)`, 1)
	dir := writeTree(t, map[string]string{"greet.lua": greetScript, "greet_test.lua": bad})
	code, out := kaifukuTest(t, dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	want := "FAIL greet greets after a minute of fake time (" + filepath.Join(dir, "greet_test.lua") + `:5): expected "hello world", got "hello ops from compute1"`
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if !strings.Contains(out, "1 passed, 1 failed, 1 skipped") {
		t.Errorf("closing line:\n%s", out)
	}
}

func TestKaifukuTestLoadErrorsExitTwo(t *testing.T) {
	t.Run("script syntax error", func(t *testing.T) {
		dir := writeTree(t, map[string]string{
			"greet.lua":      strings.Replace(greetScript, `local who = config.who`, `local who = = config.who`, 1),
			"greet_test.lua": greetTest,
		})
		code, out := kaifukuTest(t, dir)
		if code != 2 || !strings.Contains(out, "greet.lua:7") {
			t.Errorf("exit %d, want 2 naming greet.lua:7:\n%s", code, out)
		}
		if strings.Contains(out, "passed") {
			t.Errorf("no test may run after a load error:\n%s", out)
		}
	})
	t.Run("test file syntax error", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"greet.lua": greetScript, "greet_test.lua": "describe('x', function()\n"})
		code, out := kaifukuTest(t, dir)
		if code != 2 || !strings.Contains(out, "greet_test.lua") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("bad --run", func(t *testing.T) {
		code, out := kaifukuTest(t, "--run", "(", t.TempDir())
		if code != 2 || !strings.Contains(out, "--run") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("missing config file", func(t *testing.T) {
		code, out := kaifukuTest(t, "--config-file", filepath.Join(t.TempDir(), "nope.conf"), t.TempDir())
		if code != 2 || !strings.Contains(out, "nope.conf") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("no tests", func(t *testing.T) {
		code, out := kaifukuTest(t, t.TempDir())
		if code != 2 || !strings.Contains(out, "no *_test.lua files") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

func TestKaifukuTestJUnit(t *testing.T) {
	bad := strings.Replace(greetTest, `assert.matches("who is required", r.error)`, `assert.is_nil(r.error)`, 1)
	dir := writeTree(t, map[string]string{"greet.lua": greetScript, "greet_test.lua": bad})
	report := filepath.Join(t.TempDir(), "junit.xml")
	code, out := kaifukuTest(t, "--junit", report, dir)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("invalid JUnit XML: %v\n%s", err, data)
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 0 || doc.Skipped != 1 || len(doc.Suites) != 1 || doc.Suites[0].Tests != 3 {
		t.Fatalf("counts: %+v", doc)
	}
	f := doc.Suites[0].Cases[1].Failure
	if f == nil || !strings.Contains(f.Message, "expected nil") || !strings.Contains(f.Text, "greet_test.lua:13") {
		t.Errorf("failure element: %+v", f)
	}
}

// The shipped scripts' own Lua tests, as CI runs them with
// `kaifuku test scripts/`.
func TestKaifukuTestShippedScripts(t *testing.T) {
	code, out := kaifukuTest(t, filepath.Join("..", "..", "scripts"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.HasSuffix(out, " passed, 0 failed\n") || strings.HasPrefix(out, "0 passed") {
		t.Errorf("output:\n%s", out)
	}
}
