// Package luatest runs operators' Lua tests of their recovery tasks: busted's
// describe/it/before_each/after_each/pending and assert functions, with the
// harness global that runs tasks and whole flows on fakes (package harness).
// Test files run in the tasks' own sandbox (script.Sandbox): the same
// libraries and json module, and the same conversion of values between Lua
// and the flow store, so a test builds and reads values as its task does.
package luatest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/harness"
)

// Options configures a test run.
type Options struct {
	// Paths are test files and directories searched for *_test.lua.
	Paths []string
	// Run, when set, selects the tests whose full name it matches.
	Run *regexp.Regexp
	// Verbose prints every test with its output.
	Verbose bool
	// Timeout bounds each test in real time; 0 means one minute.
	Timeout time.Duration
	// Config is the operator's configuration: flows and task sections. Nil
	// means Masakari's defaults.
	Config *conf.Config
	// ScriptsDir is where the tasks under test live. Empty means each test
	// file's own directory (tests sit next to their scripts).
	ScriptsDir string
	// Builtins registers the built-in tasks the tests' flows run; kaifuku
	// passes builtin.Register.
	Builtins harness.Builtins
	// Out receives the report.
	Out io.Writer
}

// Report is the outcome of a run.
type Report struct {
	Results []Result
	Passed  int
	Failed  int // failed assertions and errors
	Skipped int
	Elapsed time.Duration
}

// Summary is the closing line: "N passed, M failed" and ", K skipped" when
// some tests are pending.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed)
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	return s
}

// LoadError is a problem that stops the run before any test runs: a missing
// path, a test file or script that does not compile, a bad configuration.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Find returns the test files under paths, sorted: files named directly (of
// any name ending in .lua) and every *_test.lua below directories.
func Find(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var files []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			if !strings.HasSuffix(p, ".lua") {
				return nil, fmt.Errorf("%s: not a Lua test file (want NAME_test.lua or a directory)", p)
			}
			add(filepath.Clean(p))
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), "_test.lua") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		for _, f := range found {
			add(f)
		}
	}
	return files, nil
}

// Run loads every test file and the scripts they test, then runs the tests
// and writes the report to opts.Out. A returned error is a *LoadError: nothing
// ran. Failing tests are in the report, not an error.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	cfg := opts.Config
	if cfg == nil {
		cfg = conf.Defaults()
	}
	paths, err := Find(opts.Paths)
	if err != nil {
		return nil, &LoadError{err}
	}
	if len(paths) == 0 {
		return nil, &LoadError{fmt.Errorf("no *_test.lua files under %s", strings.Join(opts.Paths, ", "))}
	}
	began := time.Now()

	// Load everything first, so that a broken script or test file is a load
	// error and not a pile of failed tests.
	suites := map[string]*harness.Suite{}
	var files []*file
	defer func() {
		for _, f := range files {
			f.sb.Close()
		}
	}()
	for _, p := range paths {
		dir := opts.ScriptsDir
		if dir == "" {
			dir = filepath.Dir(p)
		}
		suite, ok := suites[dir]
		if !ok {
			suite = &harness.Suite{Config: cfg, ScriptsDir: dir, Builtins: opts.Builtins}
			if err := suite.Check(); err != nil {
				return nil, &LoadError{err}
			}
			suites[dir] = suite
		}
		lctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		f, err := loadFile(lctx, p, func(f *file) { openHarness(f, suite) })
		cancel()
		if err != nil {
			return nil, &LoadError{err}
		}
		files = append(files, f)
	}

	rep := &Report{}
	for _, f := range files {
		for _, t := range f.tests {
			if opts.Run != nil && !opts.Run.MatchString(t.name) {
				continue
			}
			if opts.Verbose && t.fn != nil {
				fmt.Fprintf(opts.Out, "=== RUN   %s\n", t.name)
			}
			res := f.run(ctx, t, opts.Timeout)
			rep.Results = append(rep.Results, res)
			switch res.Status {
			case Passed:
				rep.Passed++
			case Skipped:
				rep.Skipped++
			default:
				rep.Failed++
			}
			writeResult(opts.Out, res, opts.Verbose)
		}
	}
	rep.Elapsed = time.Since(began)
	fmt.Fprintln(opts.Out, rep.Summary())
	return rep, nil
}

// writeResult prints a test: failures always, as one line with the full
// name, the file:line of the failing assertion and expected/actual (a table
// diff follows, indented); passes and skips only when verbose.
func writeResult(w io.Writer, r Result, verbose bool) {
	if verbose {
		for _, line := range r.Output {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	switch r.Status {
	case Passed:
		if verbose {
			fmt.Fprintf(w, "--- PASS: %s (%.3fs)\n", r.Name, r.Duration.Seconds())
		}
	case Skipped:
		if verbose {
			fmt.Fprintf(w, "--- SKIP: %s (%s)\n", r.Name, r.Where)
		}
	default:
		fmt.Fprintf(w, "FAIL %s (%s): %s\n", r.Name, r.Failure.Where, firstLine(r.Failure.Message))
		rest := restLines(r.Failure.Message)
		if r.Failure.Detail != "" {
			rest = append(rest, strings.Split(r.Failure.Detail, "\n")...)
		}
		if verbose && r.Trace != "" {
			rest = append(rest, strings.Split(r.Trace, "\n")...)
		}
		for _, line := range rest {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func restLines(s string) []string {
	_, rest, ok := strings.Cut(s, "\n")
	if !ok || strings.TrimSpace(rest) == "" {
		return nil
	}
	return strings.Split(strings.TrimRight(rest, "\n"), "\n")
}
