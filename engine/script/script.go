// Package script turns the operator's Lua scripts (scripts/NAME.lua) into
// recovery tasks named NAME that run in a sandbox.
//
// Every script is compiled once by Load. A flow run gets one sealed Lua state
// (through engine.Env.Shared) that its Lua tasks share; each task execution
// gets fresh globals, and the library tables are read-only, so nothing one
// script does reaches another. States are pooled across runs; a state that
// saw a timeout, an overflow or the memory guard is discarded instead.
package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// maxIdleStates is how many released states a set keeps for sure (see
// set.idle): enough for the concurrent runs of a busy daemon.
const maxIdleStates = 4

// Defaults of the [lua] section when the configuration leaves them unset.
const (
	DefaultTaskTimeout    = 30 * time.Second
	DefaultMemoryLimitMiB = 256
	// loadTimeout bounds running a script's top level at load time.
	loadTimeout = 5 * time.Second
)

// Doer sends HTTP requests; *http.Client implements it. Requests reach it
// only after the [lua] http_allowed_hosts check.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Mail is one message sent by the smtp module.
type Mail struct {
	From    string
	To, Cc  []string
	Subject string
	Body    string
}

// Mailer delivers mail for the smtp module.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Options configures the sandbox and its modules.
type Options struct {
	Dir    string       // scripts directory; only *.lua directly in it are tasks
	Config *conf.Config // [lua], [smtp] and the task sections; nil means defaults
	Cloud  compute.Cloud
	// HTTP sends the http module's requests; nil means a real client that
	// refuses redirects to other hosts.
	HTTP Doer
	// Mailer sends the smtp module's mail; nil means SMTP as [smtp] says.
	Mailer Mailer
	// Log receives what scripts log while they load; nil discards it.
	// While a task runs, its engine.Env.Log is used.
	Log *logrus.Entry
	// Cache, when not nil, keeps the compiled files for later loads.
	Cache *Cache
}

// script is one compiled task script.
type script struct {
	name  string // task name: the file stem
	chunk string // name in messages: "scripts/NAME.lua"
	path  string
	proto *lua.FunctionProto // as written: run at load for the declarations
	// runProto is what flow runs execute: proto without the literal
	// declaration fields (see compileScript).
	runProto *lua.FunctionProto
	decl     decl
}

// decl is what a script's returned table declares.
type decl struct {
	requires, optional, provides []string
	timeout                      time.Duration
	hasRevert                    bool
	settings                     []engine.Setting // nil: none declared
}

// set is everything one Load produced: the compiled scripts and modules, the
// resolved options, the pool of sealed states and the memory watchdog.
type set struct {
	dir     string
	cfg     *conf.Config
	cloud   compute.Cloud
	http    Doer
	mailer  Mailer
	log     *logrus.Entry
	allowed []string
	timeout time.Duration
	libs    map[string]*module // by require name
	// idle keeps up to maxIdleStates released states for the next runs;
	// more go to pool, which the garbage collector may empty. A state
	// costs ~170 KiB and ~0.2 ms to build: without idle, a collection
	// would make some runs rebuild one.
	idleMu   sync.Mutex
	idle     []*runState
	pool     sync.Pool
	watchdog *watchdog
	cache    *Cache
}

// module is a compiled lib/ module.
type module struct {
	name, chunk string
	proto       *lua.FunctionProto
}

// Load compiles every *.lua file directly in opts.Dir (except *_test.lua,
// which are the scripts' tests) and every module under lib/, runs each
// script's top level once to read its declarations, and returns one Spec per
// script. Every problem is reported, joined, as "scripts/NAME.lua:LINE: ...".
// A missing directory means no scripts.
func Load(opts Options) ([]engine.Spec, error) {
	s, err := newSet(opts)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(opts.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scripts directory: %w", err)
	}
	var errs []error
	if err := s.loadLibs(); err != nil {
		errs = append(errs, err)
	}
	var specs []engine.Spec
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".lua") || strings.HasSuffix(name, "_test.lua") {
			continue
		}
		sc, err := s.loadScript(strings.TrimSuffix(name, ".lua"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		specs = append(specs, s.spec(sc))
	}
	if len(errs) > 0 {
		return specs, errors.Join(errs...)
	}
	return specs, nil
}

// Register loads the scripts of opts.Dir and adds them to reg. A script named
// like a task already in reg (a built-in) is an error naming both. Scripts
// that loaded are added even when others failed; the error lists the rest.
func Register(reg *engine.Registry, opts Options) error {
	specs, err := Load(opts)
	errs := []error{err}
	for _, sp := range specs {
		errs = append(errs, reg.Add(sp))
	}
	return errors.Join(errs...)
}

func newSet(opts Options) (*set, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = conf.Defaults()
	}
	s := &set{dir: opts.Dir, cfg: cfg, cloud: opts.Cloud, http: opts.HTTP, mailer: opts.Mailer, log: opts.Log,
		timeout: cfg.Lua.TaskTimeout, libs: map[string]*module{}, cache: opts.Cache}
	if s.timeout <= 0 {
		s.timeout = DefaultTaskTimeout
	}
	for _, h := range cfg.Lua.HTTPAllowedHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			s.allowed = append(s.allowed, h)
		}
	}
	if s.http == nil {
		s.http = newHTTPClient()
	}
	if s.mailer == nil {
		s.mailer = &smtpMailer{cfg: cfg.SMTP}
	}
	if s.log == nil {
		l := logrus.New()
		l.Out = io.Discard
		s.log = logrus.NewEntry(l)
	}
	limit := cfg.Lua.MemoryLimitMiB
	if limit <= 0 {
		limit = DefaultMemoryLimitMiB
	}
	s.watchdog = newWatchdog(uint64(limit)<<20, watchdogInterval)
	return s, nil
}

// chunkName is how messages name a file of the scripts directory:
// "scripts/NAME.lua" (the directory's base name, then the relative path).
func (s *set) chunkName(rel string) string {
	return filepath.ToSlash(filepath.Join(filepath.Base(s.dir), rel))
}

// parseChunk parses one file's source. Syntax errors become
// "scripts/NAME.lua:LINE:COL: message near 'token'".
func parseChunk(src []byte, chunk string) ([]ast.Stmt, error) {
	stmts, err := parse.Parse(bytes.NewReader(src), chunk)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			if pe.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("%s: syntax error at end of file: %s", chunk, strings.TrimSpace(pe.Message))
			}
			return nil, fmt.Errorf("%s:%d:%d: syntax error near '%s': %s", chunk, pe.Pos.Line, pe.Pos.Column, pe.Token, strings.TrimSpace(pe.Message))
		}
		return nil, fmt.Errorf("%s: %w", chunk, err)
	}
	return stmts, nil
}

// compileChunk compiles a parsed file into its main function.
func compileChunk(stmts []ast.Stmt, chunk string) (*lua.FunctionProto, error) {
	proto, err := lua.Compile(capConcat(stmts), chunk)
	if err != nil {
		var ce *lua.CompileError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%s:%d: %s", chunk, ce.Line, ce.Message)
		}
		return nil, fmt.Errorf("%s: %w", chunk, err)
	}
	// gopher-lua marks a main chunk that does not use "..." as needing the
	// Lua 5.0 "arg" table, but declares no local that could reach it (Lua
	// 5.1 gives main chunks none): the table would be built, about 3 KiB,
	// on every run of the top level and never be seen.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	return proto, nil
}

// compileScript compiles a task script twice: as written, run once at load
// to read its declarations, and for the runs, without the declaration
// fields that are literals (requires = {"a", "b"}, timeout = 20). Load has
// read and checked those already, and a run uses only execute and revert of
// the returned table; leaving the literals out saves building them on every
// flow run. Nothing else changes: the top level cannot see the table it is
// constructing, and literals have no side effects.
func compileScript(src []byte, chunk string) (full, run *lua.FunctionProto, err error) {
	stmts, err := parseChunk(src, chunk)
	if err != nil {
		return nil, nil, err
	}
	if full, err = compileChunk(stmts, chunk); err != nil {
		return nil, nil, err
	}
	// Parse again rather than edit the tree that was compiled.
	stmts, err = parseChunk(src, chunk)
	if err != nil || !stripDeclarations(stmts) {
		return full, full, nil
	}
	if run, err = compileChunk(stmts, chunk); err != nil {
		return full, full, nil
	}
	return full, run, nil
}

// Compile compiles Lua source that runs beside the tasks in a Sandbox (a
// test file of kaifuku test) exactly as a task script is compiled: the same
// syntax error messages, chunk name and size-capped `..`.
func Compile(src []byte, chunk string) (*lua.FunctionProto, error) {
	return compileModule(src, chunk)
}

// compileModule compiles a lib/ module.
func compileModule(src []byte, chunk string) (*lua.FunctionProto, error) {
	stmts, err := parseChunk(src, chunk)
	if err != nil {
		return nil, err
	}
	return compileChunk(stmts, chunk)
}

// Cache keeps compiled scripts and modules across loads, by file and
// content, so that loading an unchanged scripts directory again (the test
// harness loads it for every task it runs) skips parsing and compiling. A
// changed file is compiled again. Compiled code is immutable: each load
// still runs the top levels in its own states, so a cache shares no state
// between loads. The zero value is ready to use; it is safe for concurrent
// use.
type Cache struct {
	mu    sync.Mutex
	files map[string]compiled // by path and chunk name
}

// compiled is one compiled file and the source it was compiled from.
type compiled struct {
	src       []byte
	full, run *lua.FunctionProto
}

// compileFile reads and compiles path as a task script (or, with
// module, as a lib/ module), through opts' cache when there is one.
func (s *set) compileFile(path, chunk string, module bool) (full, run *lua.FunctionProto, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", chunk, err)
	}
	key := path + "\x00" + chunk
	if c := s.cache; c != nil {
		c.mu.Lock()
		e, ok := c.files[key]
		c.mu.Unlock()
		if ok && bytes.Equal(e.src, src) {
			return e.full, e.run, nil
		}
	}
	if module {
		full, err = compileModule(src, chunk)
		run = full
	} else {
		full, run, err = compileScript(src, chunk)
	}
	if err != nil {
		return nil, nil, err
	}
	if c := s.cache; c != nil {
		c.mu.Lock()
		if c.files == nil {
			c.files = map[string]compiled{}
		}
		c.files[key] = compiled{src: src, full: full, run: run}
		c.mu.Unlock()
	}
	return full, run, nil
}

// stripDeclarations removes the literal requires, optional, provides and
// timeout fields from a chunk ending in `return { ... }`, and says whether
// it removed any.
func stripDeclarations(stmts []ast.Stmt) bool {
	if len(stmts) == 0 {
		return false
	}
	ret, ok := stmts[len(stmts)-1].(*ast.ReturnStmt)
	if !ok || len(ret.Exprs) != 1 {
		return false
	}
	tbl, ok := ret.Exprs[0].(*ast.TableExpr)
	if !ok {
		return false
	}
	kept := make([]*ast.Field, 0, len(tbl.Fields))
	for _, f := range tbl.Fields {
		if !literalDeclaration(f) {
			kept = append(kept, f)
		}
	}
	if len(kept) == len(tbl.Fields) {
		return false
	}
	tbl.Fields = kept
	return true
}

// literalDeclaration reports whether f is `requires = {"a", ...}` (or
// optional, provides) with string literals only, or `timeout = NUMBER`.
func literalDeclaration(f *ast.Field) bool {
	key, ok := f.Key.(*ast.StringExpr)
	if !ok {
		return false
	}
	switch key.Value {
	case "requires", "optional", "provides":
		list, ok := f.Value.(*ast.TableExpr)
		if !ok {
			return false
		}
		for _, item := range list.Fields {
			if _, ok := item.Value.(*ast.StringExpr); !ok || item.Key != nil {
				return false
			}
		}
		return true
	case "timeout":
		_, ok := f.Value.(*ast.NumberExpr)
		return ok
	}
	return false
}

// loadLibs compiles every module under lib/ (any depth).
func (s *set) loadLibs() error {
	root := filepath.Join(s.dir, "lib")
	var errs []error
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == root {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".lua") || strings.HasSuffix(path, "_test.lua") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := strings.ReplaceAll(filepath.ToSlash(strings.TrimSuffix(rel, ".lua")), "/", ".")
		chunk := s.chunkName(filepath.Join("lib", rel))
		proto, _, err := s.compileFile(path, chunk, true)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		s.libs[name] = &module{name: name, chunk: chunk, proto: proto}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("scripts library directory: %w", err))
	}
	return errors.Join(errs...)
}

func (s *set) loadScript(name string) (*script, error) {
	path := filepath.Join(s.dir, name+".lua")
	sc := &script{name: name, chunk: s.chunkName(name + ".lua"), path: path}
	full, run, err := s.compileFile(path, sc.chunk, false)
	if err != nil {
		return nil, err
	}
	sc.proto, sc.runProto = full, run
	d, err := s.declarations(sc)
	if err != nil {
		return nil, err
	}
	sc.decl = d
	return sc, nil
}

func (s *set) spec(sc *script) engine.Spec {
	t := sc.decl.timeout
	if t <= 0 {
		t = s.timeout
	}
	return engine.Spec{
		Name:     sc.name,
		Kind:     "lua",
		Source:   sc.path,
		Requires: sc.decl.requires,
		Optional: sc.decl.optional,
		Provides: sc.decl.provides,
		Timeout:  t,
		Settings: sc.decl.settings,
		New: func(settings conf.Section) (engine.Task, error) {
			if sc.decl.settings != nil {
				if err := checkSettings(sc.chunk, sc.decl.settings, settings); err != nil {
					return nil, err
				}
				settings = withDefaults(sc.decl.settings, settings)
			}
			return &task{set: s, script: sc, settings: settings, timeout: t}, nil
		},
	}
}

// declarations runs the script's top level in a load-time sandbox and reads
// the table it returns.
func (s *set) declarations(sc *script) (decl, error) {
	rs := s.getState()
	defer rs.release()
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	c := &call{loading: true, task: &task{set: s, script: sc, settings: s.cfg.TaskSection(sc.name), timeout: loadTimeout},
		log: s.log.WithField("task", sc.name)}
	tbl, err := rs.loadChunk(ctx, c)
	if err != nil {
		return decl{}, err
	}
	return readDecl(sc.chunk, tbl)
}

var declFields = []string{"requires", "optional", "provides", "execute", "revert", "timeout", "settings"}

func readDecl(chunk string, tbl *lua.LTable) (decl, error) {
	var d decl
	var errs []string
	tbl.ForEach(func(k, v lua.LValue) {
		key, ok := k.(lua.LString)
		if !ok || !contains(declFields, string(key)) {
			hint := ""
			if ok {
				if c := conf.Closest(string(key), declFields, 1, conf.Loose); len(c) > 0 {
					hint = fmt.Sprintf(" (did you mean %q?)", c[0])
				}
			}
			errs = append(errs, fmt.Sprintf("unknown field %s in the returned table%s; fields are %s",
				lua.LVAsString(k), hint, strings.Join(declFields, ", ")))
		}
	})
	keys := func(field string) []string {
		v := tbl.RawGetString(field)
		if v == lua.LNil {
			return nil
		}
		t, ok := v.(*lua.LTable)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s must be a list of store keys, not a %s", field, v.Type()))
			return nil
		}
		var out []string
		n := t.Len()
		count := 0
		t.ForEach(func(lua.LValue, lua.LValue) { count++ })
		if count != n {
			errs = append(errs, fmt.Sprintf("%s must be a list like {\"host_name\", \"instance_list\"}", field))
			return nil
		}
		for i := 1; i <= n; i++ {
			k, ok := t.RawGetInt(i).(lua.LString)
			if !ok || k == "" {
				errs = append(errs, fmt.Sprintf("%s[%d] must be a non-empty string, not %s", field, i, t.RawGetInt(i).Type()))
				continue
			}
			if contains(out, string(k)) {
				errs = append(errs, fmt.Sprintf("%s lists %q twice", field, string(k)))
				continue
			}
			out = append(out, string(k))
		}
		return out
	}
	d.requires = keys("requires")
	d.optional = keys("optional")
	d.provides = keys("provides")
	d.settings = readSettings(tbl.RawGetString("settings"), &errs)
	if _, ok := tbl.RawGetString("execute").(*lua.LFunction); !ok {
		errs = append(errs, fmt.Sprintf("execute must be a function(store), not %s", tbl.RawGetString("execute").Type()))
	}
	if v := tbl.RawGetString("revert"); v != lua.LNil {
		d.hasRevert = true
		if _, ok := v.(*lua.LFunction); !ok {
			errs = append(errs, fmt.Sprintf("revert must be a function(store, err), not %s", v.Type()))
		}
	}
	if v := tbl.RawGetString("timeout"); v != lua.LNil {
		n, ok := v.(lua.LNumber)
		if !ok || n <= 0 || n > 86400 {
			errs = append(errs, fmt.Sprintf("timeout must be a number of seconds between 0 and 86400, not %s", lua.LVAsString(v)))
		} else {
			d.timeout = time.Duration(float64(n) * float64(time.Second))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return decl{}, fmt.Errorf("%s: %s", chunk, strings.Join(errs, "; "))
	}
	return d, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
