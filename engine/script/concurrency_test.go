package script

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// TestConcurrentRuns: runs in parallel never share a state; each run's Lua
// tasks share one, and nothing leaks between tasks. Run it with -race.
func TestConcurrentRuns(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"first.lua": `return {
  requires = {"instance_uuid"},
  provides = {"mine"},
  execute = function(store)
    assert(marker == nil, "a global leaked into first")
    marker = store.instance_uuid
    local n = 0
    for i = 1, 2000 do n = n + #tostring(i) end
    return {mine = store.instance_uuid}
  end }`,
		"second.lua": `return {
  requires = {"mine"},
  provides = {"checked"},
  execute = function(store)
    assert(marker == nil, "a global leaked from first into second")
    return {checked = store.mine}
  end }`,
	})
	fl := f.flow("first", "second")
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				id := fmt.Sprintf("uuid-%d-%d", g, i)
				res := f.runner.Run(context.Background(), engine.Request{NotificationUUID: id, Flow: fl,
					Store: engine.Store{"instance_uuid": id, "notification_uuid": id}})
				if res.Err != nil {
					errs <- res.Err
					return
				}
				if res.Store["checked"] != id {
					errs <- fmt.Errorf("run %s saw %v", id, res.Store["checked"])
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestOneStatePerRun: the Lua tasks of one run share a state; another run
// gets another.
func TestOneStatePerRun(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"a.lua": luaTask(""), "b.lua": luaTask("")})
	spec, _ := f.reg.Lookup("a")
	tk, _ := spec.New(f.cfg.TaskSection("a"))
	key := tk.(*task).set
	var seen []*runHolder
	spy := func(name string) {
		f.reg.Register(engine.Spec{Name: name, New: func(conf.Section) (engine.Task, error) {
			return envTask(func(env *engine.Env) error {
				v, err := env.Shared(key, func() (any, error) { return nil, fmt.Errorf("no state yet") })
				if err != nil {
					return err
				}
				seen = append(seen, v.(*runHolder))
				return nil
			}), nil
		}})
	}
	spy("spy1")
	spy("spy2")
	for i := 0; i < 2; i++ {
		if res := f.run(nil, "a", "spy1", "b", "spy2"); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if len(seen) != 4 || seen[0] != seen[1] || seen[2] != seen[3] || seen[0] == seen[2] {
		t.Fatalf("holders %p", seen)
	}
}

// envTask is a Go task that looks at its Env.
type envTask func(*engine.Env) error

func (e envTask) Execute(_ context.Context, env *engine.Env, _ engine.Store) (engine.Store, error) {
	return nil, e(env)
}
func (envTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }
