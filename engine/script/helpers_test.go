package script

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/testbed"
)

// writeScripts writes files (relative paths) into a fresh "scripts"
// directory and returns it.
func writeScripts(t testing.TB, files map[string]string) string {
	t.Helper()
	return testbed.WriteFiles(t, filepath.Join(t.TempDir(), "scripts"), files)
}

// fixture is a loaded scripts directory with a registry and a runner.
type fixture struct {
	t      testing.TB
	reg    *engine.Registry
	runner *engine.Runner
	clock  *clock.Fake
	logs   *test.Hook
	cfg    *conf.Config
}

func newFixture(t testing.TB, opts Options, files map[string]string) *fixture {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = writeScripts(t, files)
	}
	if opts.Config == nil {
		opts.Config = conf.Defaults()
	}
	reg := engine.NewRegistry()
	if err := Register(reg, opts); err != nil {
		t.Fatalf("register: %v", err)
	}
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	return &fixture{t: t, reg: reg, clock: clk, logs: hook, cfg: opts.Config,
		runner: &engine.Runner{Clock: clk, Log: log}}
}

// flow builds an instance flow with the named tasks in main.
func (f *fixture) flow(names ...string) *engine.Flow {
	f.t.Helper()
	return f.flowOf(conf.FlowInstance, names...)
}

// flowOf builds a flow of kind with the named tasks in main.
func (f *fixture) flowOf(kind conf.FlowKind, names ...string) *engine.Flow {
	f.t.Helper()
	spec := conf.FlowSpec{Kind: kind}
	for _, n := range names {
		spec.Phases[conf.Main] = append(spec.Phases[conf.Main], conf.TaskRef{Name: n})
	}
	fl, err := engine.Plan(f.reg, spec)
	if err != nil {
		f.t.Fatalf("plan: %v", err)
	}
	for p := range fl.Phases {
		for i := range fl.Phases[p] {
			ft := &fl.Phases[p][i]
			task, err := ft.Spec.New(f.cfg.TaskSection(ft.Spec.Name))
			if err != nil {
				f.t.Fatal(err)
			}
			ft.Task = task
		}
	}
	return fl
}

// build builds the named task from its settings section, as a flow does,
// and returns its refusal.
func (f *fixture) build(name string) error {
	f.t.Helper()
	spec, err := f.reg.Lookup(name)
	if err != nil {
		f.t.Fatal(err)
	}
	_, err = spec.New(f.cfg.TaskSection(name))
	return err
}

// run runs the named tasks as the main phase of one instance flow.
func (f *fixture) run(store engine.Store, names ...string) engine.Result {
	f.t.Helper()
	if store == nil {
		store = engine.Store{}
	}
	if _, ok := store["instance_uuid"]; !ok {
		store["instance_uuid"] = "11111111-2222-3333-4444-555555555555"
	}
	store["notification_uuid"] = "n-1"
	return f.runner.Run(context.Background(), engine.Request{NotificationUUID: "n-1", Flow: f.flow(names...), Store: store})
}

// runHost runs the named tasks as the main phase of a host_auto flow.
func (f *fixture) runHost(store engine.Store, names ...string) engine.Result {
	f.t.Helper()
	store["notification_uuid"] = "n-1"
	return f.runner.Run(context.Background(), engine.Request{NotificationUUID: "n-1", Flow: f.flowOf(conf.FlowHostAuto, names...), Store: store})
}

// goTask is a Go task for flows mixing Go and Lua.
type goTask struct {
	exec func(engine.Store) (engine.Store, error)
}

func (g goTask) Execute(_ context.Context, _ *engine.Env, in engine.Store) (engine.Store, error) {
	return g.exec(in)
}
func (goTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

func (f *fixture) addGo(name string, provides []string, exec func(engine.Store) (engine.Store, error)) {
	f.reg.Register(engine.Spec{Name: name, Provides: provides, New: func(conf.Section) (engine.Task, error) {
		return goTask{exec: exec}, nil
	}})
}

// luaTask wraps a body as a script that requires nothing and provides nothing.
func luaTask(body string) string {
	return "return {\n  execute = function(store)\n" + body + "\n  end,\n}\n"
}

// errText returns err's message or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func unwrapErr(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
