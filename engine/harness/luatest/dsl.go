package luatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/engine/script"
)

// block is a describe() block (the file itself is the root block).
type block struct {
	name   string
	parent *block
	before []*lua.LFunction
	after  []*lua.LFunction
}

func (b *block) fullName(name string) string {
	parts := []string{name}
	for p := b; p != nil; p = p.parent {
		if p.name != "" {
			parts = append([]string{p.name}, parts...)
		}
	}
	return strings.Join(parts, " ")
}

// test is one it() or pending().
type test struct {
	name  string // full name: enclosing describe names and its own, space separated
	where string // where it() was called
	block *block
	fn    *lua.LFunction // nil when pending
}

// file is a loaded test file: its own sandbox, kept for the run of its
// tests, and the tests it declared. The sandbox is the one tasks run in
// (package script): test files see the libraries and the json module their
// tasks see.
type file struct {
	path    string
	sb      *script.Sandbox
	L       *lua.LState // sb's state
	tests   []*test
	current *block    // while collecting
	running bool      // while a test runs: describe/it are then errors
	output  *[]string // where print and the harness write the running test's log
}

// loadFile compiles a test file and runs its top level, which declares the
// tests. Syntax and top-level errors are load errors with file:line.
func loadFile(ctx context.Context, path string, setup func(f *file)) (*file, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	proto, err := script.Compile(src, path)
	if err != nil {
		return nil, err
	}
	sb := script.NewSandbox()
	f := &file{path: path, sb: sb, L: sb.State(), current: &block{}}
	discard := []string{}
	f.output = &discard
	f.openDSL()
	openAssert(f.L)
	if setup != nil {
		setup(f)
	}
	f.L.SetContext(ctx)
	defer f.L.RemoveContext()
	f.L.Push(f.L.NewFunctionFromProto(proto))
	if err := f.L.PCall(0, 0, nil); err != nil {
		f.sb.Close()
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("%s", withPath(path, errorText(ae.Object)))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// withPath makes sure a message names the file.
func withPath(path, msg string) string {
	if strings.HasPrefix(msg, path+":") {
		return msg
	}
	return path + ": " + msg
}

func (f *file) openDSL() {
	L := f.L
	L.SetGlobal("describe", L.NewFunction(f.describe))
	L.SetGlobal("it", L.NewFunction(f.it))
	L.SetGlobal("pending", L.NewFunction(f.pending))
	L.SetGlobal("before_each", L.NewFunction(func(L *lua.LState) int {
		f.declaring(L, "before_each")
		f.current.before = append(f.current.before, L.CheckFunction(1))
		return 0
	}))
	L.SetGlobal("after_each", L.NewFunction(func(L *lua.LState) int {
		f.declaring(L, "after_each")
		f.current.after = append(f.current.after, L.CheckFunction(1))
		return 0
	}))
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		parts := make([]string, L.GetTop())
		for i := range parts {
			parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
		}
		*f.output = append(*f.output, "print: "+strings.Join(parts, "\t"))
		return 0
	}))
}

func (f *file) declaring(L *lua.LState, what string) {
	if f.running {
		L.RaiseError("%s() declares tests: call it at the top of the file or inside describe(), not inside a running test", what)
	}
}

func (f *file) describe(L *lua.LState) int {
	f.declaring(L, "describe")
	name := L.CheckString(1)
	fn := L.CheckFunction(2)
	parent := f.current
	f.current = &block{name: name, parent: parent}
	defer func() { f.current = parent }()
	L.Push(fn)
	L.Call(0, 0)
	return 0
}

func (f *file) it(L *lua.LState) int {
	f.declaring(L, "it")
	name := L.CheckString(1)
	fn, _ := L.Get(2).(*lua.LFunction) // it("name") without a body is pending, as in busted
	if fn == nil && L.Get(2) != lua.LNil {
		L.ArgError(2, "function expected")
	}
	f.tests = append(f.tests, &test{name: f.current.fullName(name), where: where(L), block: f.current, fn: fn})
	return 0
}

func (f *file) pending(L *lua.LState) int {
	f.declaring(L, "pending")
	name := L.CheckString(1)
	f.tests = append(f.tests, &test{name: f.current.fullName(name), where: where(L), block: f.current})
	return 0
}

// Status is a test's outcome.
type Status int

// Test outcomes.
const (
	Passed  Status = iota
	Failed         // an assertion failed
	Errored        // the test raised an error that is not an assertion
	Skipped        // pending
)

func (s Status) String() string { return [...]string{"PASS", "FAIL", "ERROR", "SKIP"}[s] }

// Result is the outcome of one test.
type Result struct {
	File     string
	Name     string // full name
	Where    string // where the test is declared
	Status   Status
	Failure  *Failure // Failed and Errored: where and why
	Trace    string   // Errored: the Lua traceback
	Duration time.Duration
	Output   []string // print output, and the logs and progress of the tasks it ran
}

var errorPos = regexp.MustCompile(`^(\S+?:\d+): (?s)(.*)$`)

// run runs one test: the before_each functions from the outermost block in,
// the body, then the after_each functions from the innermost block out (even
// when the body failed). The first problem is the test's result.
func (f *file) run(ctx context.Context, t *test, timeout time.Duration) Result {
	res := Result{File: f.path, Name: t.name, Where: t.where}
	if t.fn == nil {
		res.Status = Skipped
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	f.running = true
	f.output = &res.Output
	f.L.SetContext(ctx)
	defer func() {
		f.L.RemoveContext()
		f.running = false
		discard := []string{}
		f.output = &discard
	}()
	began := time.Now()
	var chain []*block
	for b := t.block; b != nil; b = b.parent {
		chain = append([]*block{b}, chain...)
	}
	call := func(fn *lua.LFunction, what string) bool {
		if res.Status != Passed {
			return false
		}
		f.L.Push(fn)
		err := f.L.PCall(0, 0, nil)
		if err == nil {
			return true
		}
		f.record(&res, err, what, t, ctx, timeout)
		return false
	}
	ok := true
	for _, b := range chain {
		for _, fn := range b.before {
			if ok = call(fn, "before_each"); !ok {
				break
			}
		}
		if !ok {
			break
		}
	}
	if ok {
		call(t.fn, "")
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, fn := range chain[i].after {
			call(fn, "after_each")
		}
	}
	res.Duration = time.Since(began)
	return res
}

func (f *file) record(res *Result, err error, what string, t *test, ctx context.Context, timeout time.Duration) {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		res.Status = Errored
		res.Failure = &Failure{Where: t.where, Message: err.Error()}
		return
	}
	if fl, ok := failureOf(ae.Object); ok {
		res.Status = Failed
		c := *fl
		if what != "" {
			c.Message = what + ": " + c.Message
		}
		res.Failure = &c
		return
	}
	res.Status = Errored
	msg := errorText(ae.Object)
	fl := &Failure{Where: t.where, Message: msg}
	if m := errorPos.FindStringSubmatch(msg); m != nil {
		fl.Where, fl.Message = m[1], m[2]
	}
	if ctx.Err() == context.DeadlineExceeded {
		fl.Message = fmt.Sprintf("the test ran longer than %s of real time and was stopped (%s)", timeout, fl.Message)
	}
	if what != "" {
		fl.Message = what + ": " + fl.Message
	}
	res.Failure = fl
	res.Trace = ae.StackTrace
}
