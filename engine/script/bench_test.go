package script

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

const noopScript = `return { execute = function(store) end }`

func benchFlow(b *testing.B, names ...string) {
	f := newFixture(b, Options{}, map[string]string{"noop.lua": noopScript})
	f.addGo("go_task", []string{"from_go"}, func(engine.Store) (engine.Store, error) {
		return engine.Store{"from_go": "x"}, nil
	})
	fl := f.flow(names...)
	// The daemon's default: info level, no test hook recording entries.
	log := logrus.New()
	log.Out = io.Discard
	f.runner.Log = log
	store := engine.Store{"instance_uuid": "u", "notification_uuid": "n"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := f.runner.Run(ctx, engine.Request{NotificationUUID: "n", Flow: fl, Store: store}); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkFlowGoAndLua is a flow of one Go task and one no-op Lua task
// through engine.Runner.
func BenchmarkFlowGoAndLua(b *testing.B) { benchFlow(b, "go_task", "noop") }

// BenchmarkFlowGoOnly is the same flow without the Lua task: the runner's
// own cost, to subtract.
func BenchmarkFlowGoOnly(b *testing.B) { benchFlow(b, "go_task") }

// BenchmarkLuaTaskCall10Keys is one Lua task call that reads 10 store keys
// (strings, numbers, a list, a map) and provides two.
func BenchmarkLuaTaskCall10Keys(b *testing.B) {
	specs, err := Load(Options{Dir: writeScripts(b, map[string]string{"ten.lua": `
return {
  requires = {"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "instance_list", "details"},
  provides = {"count", "summary"},
  execute = function(store)
    local n = #store.instance_list
    local s = store.k1 .. store.k2 .. store.k3 .. store.k4 .. tostring(store.k5 + store.k6 + store.k7 + store.k8)
    return {count = n + store.details.retries, summary = s}
  end,
}`})})
	if err != nil {
		b.Fatal(err)
	}
	tk, err := specs[0].New(conf.Section{})
	if err != nil {
		b.Fatal(err)
	}
	in := engine.Store{"k1": "a", "k2": "b", "k3": "c", "k4": "d", "k5": 1.0, "k6": 2.0, "k7": 3.0, "k8": 4.0,
		"instance_list": []any{"i-1", "i-2", "i-3"}, "details": map[string]any{"retries": 2.0, "host": "compute1"}}
	f := newFixture(b, Options{}, nil)
	env := engine.NewEnv("n", "ten", f.clock, f.runner.Log.WithField("task", "ten"), nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := tk.Execute(ctx, env, in)
		if err != nil || out["count"] != 5.0 {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkNewState is the cost of a sealed state (paid when the pool is
// empty).
func BenchmarkNewState(b *testing.B) {
	s, _ := newSet(Options{})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rs := s.newState()
		rs.L.Close()
	}
}

var _ = fmt.Sprint

// BenchmarkLuaTaskCallNoop is the fixed cost of one Lua task call.
func BenchmarkLuaTaskCallNoop(b *testing.B) {
	specs, err := Load(Options{Dir: writeScripts(b, map[string]string{"noop.lua": noopScript})})
	if err != nil {
		b.Fatal(err)
	}
	tk, _ := specs[0].New(conf.Section{})
	f := newFixture(b, Options{}, nil)
	env := engine.NewEnv("n", "noop", f.clock, f.runner.Log.WithField("task", "noop"), nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tk.Execute(ctx, env, engine.Store{}); err != nil {
			b.Fatal(err)
		}
	}
}
