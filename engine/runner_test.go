package engine_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// journal records what the test tasks did, in order.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.lines = append(j.lines, s)
	j.mu.Unlock()
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.lines, " ")
}

// testTask behaves as told by its fields and writes to a journal.
type testTask struct {
	name   string
	j      *journal
	out    engine.Store
	fail   func(in engine.Store) error
	sleep  time.Duration
	spin   bool
	revErr error
	reads  []string
}

func (t *testTask) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	suffix := ""
	for _, k := range t.reads {
		if v, ok := in[k]; ok {
			suffix += "(" + k + "=" + v.(string) + ")"
		}
	}
	t.j.add("run:" + t.name + suffix)
	env.Progress("working on "+t.name, 0.5)
	if t.spin {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if t.sleep > 0 {
		if err := env.Clock.Sleep(ctx, t.sleep); err != nil {
			return nil, err
		}
	}
	if t.fail != nil {
		if err := t.fail(in); err != nil {
			return nil, err
		}
	}
	return t.out.Clone(), nil
}

func (t *testTask) Revert(_ context.Context, _ *engine.Env, _ engine.Store, cause error) error {
	t.j.add("revert:" + t.name)
	return t.revErr
}

type fixture struct {
	reg   *engine.Registry
	j     *journal
	tasks map[string]*testTask
}

func newFixture() *fixture {
	return &fixture{reg: engine.NewRegistry(), j: &journal{}, tasks: map[string]*testTask{}}
}

func (f *fixture) add(spec engine.Spec, t *testTask) {
	t.name, t.j = spec.Name, f.j
	f.tasks[spec.Name] = t
	spec.New = func(conf.Section) (engine.Task, error) { return t, nil }
	f.reg.Register(spec)
}

func flowSpec(kind conf.FlowKind, pre, main, post string) conf.FlowSpec {
	refs := func(s string) []conf.TaskRef {
		var out []conf.TaskRef
		for _, n := range strings.Fields(s) {
			out = append(out, conf.TaskRef{Name: n, Pos: conf.Pos{File: "test.conf", Line: 3}})
		}
		return out
	}
	return conf.FlowSpec{Kind: kind, Pos: conf.Pos{File: "test.conf", Line: 3}, Phases: [3][]conf.TaskRef{refs(pre), refs(main), refs(post)}}
}

func (f *fixture) build(t *testing.T, spec conf.FlowSpec) *engine.Flow {
	t.Helper()
	cfg := &conf.Config{Flows: map[conf.FlowKind]conf.FlowSpec{spec.Kind: spec}}
	fl, err := engine.Build(f.reg, cfg, spec.Kind)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return fl
}

func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func newRunner(events *[]engine.Event) *engine.Runner {
	r := &engine.Runner{Clock: clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), Log: quietLogger()}
	if events != nil {
		var mu sync.Mutex
		r.Listener = engine.ListenerFunc(func(e engine.Event) {
			mu.Lock()
			*events = append(*events, e)
			mu.Unlock()
		})
	}
	return r
}

func TestRunOrderAndStore(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "a", Requires: []string{"host_name"}, Provides: []string{"instance_list"}},
		&testTask{out: engine.Store{"instance_list": []string{"x", "y"}}})
	f.add(engine.Spec{Name: "b", Requires: []string{"instance_list"}}, &testTask{})
	f.add(engine.Spec{Name: "c"}, &testTask{})
	fl := f.build(t, flowSpec(conf.FlowHostAuto, "a", "b", "c"))
	var events []engine.Event
	res := newRunner(&events).Run(context.Background(), engine.Request{NotificationUUID: "n1", Flow: fl,
		Store: engine.Store{"host_name": "compute1", "notification_uuid": "n1"}})
	if res.Status != engine.StatusFinished || res.Err != nil {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
	if got := f.j.String(); got != "run:a run:b run:c" {
		t.Fatalf("order: %s", got)
	}
	list, err := res.Store.Strings("instance_list")
	if err != nil || strings.Join(list, ",") != "x,y" {
		t.Fatalf("store instance_list %v %v", list, err)
	}
	if _, ok := res.Store["instance_list"].([]any); !ok {
		t.Fatalf("provided values are normalised to JSON shapes, got %T", res.Store["instance_list"])
	}
	if len(res.Tasks) != 3 || res.Tasks[0].State != engine.StateSuccess || res.Tasks[0].Progress != 1 ||
		res.Tasks[0].Details[0].Message != "working on a" || res.Tasks[0].Details[0].Progress != 0.5 {
		t.Fatalf("records: %+v", res.Tasks)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type.String())
	}
	want := "task started,task progress,task succeeded,task started,task progress,task succeeded,task started,task progress,task succeeded,flow finished"
	if strings.Join(types, ",") != want {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(types, ","), want)
	}
	if events[2].Store["instance_list"] == nil || events[2].NotificationUUID != "n1" || events[2].Flow != conf.FlowHostAuto {
		t.Fatalf("success event carries the store, uuid and flow: %+v", events[2])
	}
}

func TestRevertInReverseOrder(t *testing.T) {
	f := newFixture()
	boom := errors.New("boom")
	f.add(engine.Spec{Name: "a"}, &testTask{})
	f.add(engine.Spec{Name: "b"}, &testTask{})
	f.add(engine.Spec{Name: "c"}, &testTask{fail: func(engine.Store) error { return boom }})
	f.add(engine.Spec{Name: "d"}, &testTask{})
	fl := f.build(t, flowSpec(conf.FlowInstance, "a", "b c", "d"))
	res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{"instance_uuid": "i", "notification_uuid": "n"}})
	if res.Status != engine.StatusError || !errors.Is(res.Err, boom) {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
	if got := f.j.String(); got != "run:a run:b run:c revert:c revert:b revert:a" {
		t.Fatalf("journal: %s", got)
	}
	for _, r := range res.Tasks {
		if r.State != engine.StateReverted {
			t.Fatalf("task %s state %s, want REVERTED", r.Name, r.State)
		}
	}
}

func TestRevertFailureIsRecorded(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "a"}, &testTask{revErr: errors.New("cannot undo")})
	f.add(engine.Spec{Name: "b"}, &testTask{fail: func(engine.Store) error { return errors.New("boom") }})
	fl := f.build(t, flowSpec(conf.FlowInstance, "a", "b", ""))
	res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
	if res.Tasks[0].State != engine.StateRevertFailure || !strings.Contains(res.Tasks[0].Error, "cannot undo") {
		t.Fatalf("record %+v", res.Tasks[0])
	}
}

func TestSkipAndIgnoreEndEarlyWithoutRevert(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status string
	}{
		{engine.Skip("Skipped host 'h' recovery as no instances needs to be evacuated"), engine.StatusFinished},
		{engine.Ignore("Recovery of instance 'i' is ignored as it is in 'paused' state."), engine.StatusIgnored},
		{engine.Fail("Failed to stop instance i"), engine.StatusError},
	} {
		f := newFixture()
		f.add(engine.Spec{Name: "a"}, &testTask{})
		f.add(engine.Spec{Name: "b"}, &testTask{fail: func(engine.Store) error { return tc.err }})
		f.add(engine.Spec{Name: "c"}, &testTask{})
		fl := f.build(t, flowSpec(conf.FlowInstance, "a", "b", "c"))
		res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
		if res.Status != tc.status {
			t.Errorf("%v: status %s, want %s", tc.err, res.Status, tc.status)
		}
		wantJournal := "run:a run:b"
		if tc.status == engine.StatusError {
			wantJournal += " revert:b revert:a"
		}
		if got := f.j.String(); got != wantJournal {
			t.Errorf("%v: journal %q, want %q", tc.err, got, wantJournal)
		}
	}
}

// hostRetry retries main over reserved_host_list, as the recovery layer does
// for the reserved-host flow.
var hostRetry = &engine.Retry{Over: "reserved_host_list", Bind: "reserved_host", Label: "reserved host",
	None: engine.Fail("No reserved_hosts available for evacuation.")}

func TestRetriedMain(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "pre"}, &testTask{})
	f.add(engine.Spec{Name: "prep", Requires: []string{"host_name"}, Optional: []string{"reserved_host"}, Provides: []string{"instance_list"}},
		&testTask{out: engine.Store{"instance_list": []any{"v1"}}, reads: []string{"reserved_host"}})
	f.add(engine.Spec{Name: "evac", Requires: []string{"instance_list"}, Optional: []string{"reserved_host"}},
		&testTask{reads: []string{"reserved_host"}, fail: func(in engine.Store) error {
			if in["reserved_host"] != "rh3" {
				return engine.Fail("Failed to evacuate instances 'v1' from host 'h'")
			}
			return nil
		}})
	f.add(engine.Spec{Name: "post", Optional: []string{"reserved_host"}}, &testTask{reads: []string{"reserved_host"}})
	fl := f.build(t, flowSpec(conf.FlowHostRH, "pre", "prep evac", "post"))
	res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Retry: hostRetry,
		Store: engine.Store{"host_name": "h", "notification_uuid": "n", "reserved_host_list": []any{"rh1", "rh2", "rh3"}}})
	if res.Status != engine.StatusFinished {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
	want := "run:pre " +
		"run:prep(reserved_host=rh1) run:evac(reserved_host=rh1) revert:evac revert:prep " +
		"run:prep(reserved_host=rh2) run:evac(reserved_host=rh2) revert:evac revert:prep " +
		"run:prep(reserved_host=rh3) run:evac(reserved_host=rh3) run:post"
	if got := f.j.String(); got != want {
		t.Fatalf("journal:\n%s\nwant\n%s", got, want)
	}
	// Progress of earlier attempts stays, as in Masakari.
	for _, r := range res.Tasks {
		if r.Name == "evac" && len(r.Details) != 3 {
			t.Fatalf("evac progress entries: %d, want 3", len(r.Details))
		}
	}
}

func TestRetriedMainExhausted(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "pre"}, &testTask{})
	f.add(engine.Spec{Name: "evac"}, &testTask{fail: func(in engine.Store) error {
		return engine.Fail("no luck on %v", in["reserved_host"])
	}})
	fl := f.build(t, flowSpec(conf.FlowHostRH, "pre", "evac", ""))
	res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Retry: hostRetry,
		Store: engine.Store{"reserved_host_list": []any{"rh1", "rh2"}}})
	if res.Status != engine.StatusError || res.Err.Error() != "no luck on rh2" {
		t.Fatalf("status %s err %v (want the last error)", res.Status, res.Err)
	}
	if got := f.j.String(); got != "run:pre run:evac revert:evac run:evac revert:evac revert:pre" {
		t.Fatalf("journal: %s", got)
	}
	res = newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Retry: hostRetry, Store: engine.Store{"reserved_host_list": []any{}}})
	if res.Status != engine.StatusError || res.Err.Error() != "No reserved_hosts available for evacuation." {
		t.Fatalf("empty list: %s %v", res.Status, res.Err)
	}
}

func TestTaskTimeoutOnFakeClock(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "slow", Timeout: 30 * time.Second}, &testTask{sleep: time.Hour})
	fl := f.build(t, flowSpec(conf.FlowInstance, "slow", "", ""))
	r := newRunner(nil)
	start := r.Clock.Now()
	res := r.Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
	if res.Status != engine.StatusError || !strings.Contains(res.Err.Error(), `task "slow" timed out after 30s`) {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
	if el := r.Clock.Now().Sub(start); el != 30*time.Second {
		t.Fatalf("virtual time passed %s, want 30s", el)
	}
}

func TestTaskTimeoutRealTime(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "spin", Timeout: 20 * time.Millisecond}, &testTask{spin: true})
	fl := f.build(t, flowSpec(conf.FlowInstance, "spin", "", ""))
	r := &engine.Runner{Clock: clock.Real{}, Log: quietLogger()}
	res := r.Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
	if res.Status != engine.StatusError || !strings.Contains(res.Err.Error(), "timed out") {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
}

func TestCancellationStopsBetweenTasks(t *testing.T) {
	f := newFixture()
	ctx, cancel := context.WithCancel(context.Background())
	f.add(engine.Spec{Name: "a"}, &testTask{fail: func(engine.Store) error { cancel(); return nil }})
	f.add(engine.Spec{Name: "b"}, &testTask{})
	fl := f.build(t, flowSpec(conf.FlowInstance, "a", "b", ""))
	res := newRunner(nil).Run(ctx, engine.Request{Flow: fl, Store: engine.Store{}})
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("err %v", res.Err)
	}
	// A cancelled run (shutdown) is not undone: it is resumed later, as
	// after a crash.
	if got := f.j.String(); got != "run:a" {
		t.Fatalf("journal: %s", got)
	}
	if res.Tasks[0].State != engine.StateSuccess {
		t.Fatalf("task a: %s", res.Tasks[0].State)
	}
	if !res.Interrupted {
		t.Fatal("a cancelled run is not reported as interrupted")
	}
}

// The runner's Result says whether a run was interrupted (drained or
// cancelled: nothing reverted, to be resumed) or ended by its tasks.
func TestResultSaysInterrupted(t *testing.T) {
	drained := make(chan struct{})
	close(drained)
	f := newFixture()
	f.add(engine.Spec{Name: "a"}, &testTask{})
	fl := f.build(t, flowSpec(conf.FlowInstance, "a", "", ""))
	r := newRunner(nil)
	r.Drain = drained
	res := r.Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
	if !res.Interrupted || !errors.Is(res.Err, engine.ErrInterrupted) || f.j.String() != "" {
		t.Fatalf("drained: interrupted %v err %v journal %q", res.Interrupted, res.Err, f.j.String())
	}

	for name, fail := range map[string]error{"failure": engine.Fail("boom"), "skip": engine.Skip("nothing to do"), "ignore": engine.Ignore("not ours")} {
		f := newFixture()
		f.add(engine.Spec{Name: "a"}, &testTask{fail: func(engine.Store) error { return fail }})
		res := newRunner(nil).Run(context.Background(), engine.Request{Flow: f.build(t, flowSpec(conf.FlowInstance, "a", "", "")), Store: engine.Store{}})
		if res.Interrupted {
			t.Errorf("%s: reported as interrupted", name)
		}
	}

	// A retried main cancelled in an attempt tries no other item and
	// reverts nothing.
	f = newFixture()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.add(engine.Spec{Name: "evac"}, &testTask{reads: []string{"reserved_host"}, fail: func(engine.Store) error { cancel(); return ctx.Err() }})
	fl = f.build(t, flowSpec(conf.FlowHostRH, "", "evac", ""))
	res = newRunner(nil).Run(ctx, engine.Request{Flow: fl, Retry: hostRetry, Store: engine.Store{"reserved_host_list": []any{"rh1", "rh2"}}})
	if !res.Interrupted || f.j.String() != "run:evac(reserved_host=rh1)" || res.Store["reserved_host"] != "rh1" {
		t.Fatalf("cancelled attempt: interrupted %v journal %q store %v", res.Interrupted, f.j.String(), res.Store)
	}
}

func TestProvidesContract(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "extra", Provides: []string{"x"}}, &testTask{out: engine.Store{"x": 1, "y": 2}})
	f.add(engine.Spec{Name: "missing", Provides: []string{"x", "z"}}, &testTask{out: engine.Store{"x": 1}})
	for name, want := range map[string]string{
		"extra":   `task "extra" provided "y", which it does not declare in provides (x)`,
		"missing": `task "missing" did not provide "z", which it declares in provides`,
	} {
		fl := f.build(t, flowSpec(conf.FlowInstance, name, "", ""))
		res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
		if res.Err == nil || res.Err.Error() != want {
			t.Errorf("%s: err %v, want %s", name, res.Err, want)
		}
	}
}

type panicTask struct{}

func (panicTask) Execute(context.Context, *engine.Env, engine.Store) (engine.Store, error) {
	var m map[string]int
	m["x"]++
	return nil, nil
}
func (panicTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

func TestPanickingTaskFailsTheFlowOnly(t *testing.T) {
	reg := engine.NewRegistry()
	reg.Register(engine.Spec{Name: "p", New: func(conf.Section) (engine.Task, error) { return panicTask{}, nil }})
	cfg := &conf.Config{Flows: map[conf.FlowKind]conf.FlowSpec{conf.FlowInstance: flowSpec(conf.FlowInstance, "p", "", "")}}
	fl, err := engine.Build(reg, cfg, conf.FlowInstance)
	if err != nil {
		t.Fatal(err)
	}
	res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
	if res.Status != engine.StatusError || !strings.Contains(res.Err.Error(), "task panicked") {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
}

func TestResumeSkipsSucceededTasks(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "a", Provides: []string{"k"}}, &testTask{out: engine.Store{"k": "fresh"}})
	f.add(engine.Spec{Name: "b", Requires: []string{"k"}}, &testTask{reads: []string{"k"}})
	fl := f.build(t, flowSpec(conf.FlowInstance, "a", "b", ""))
	res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}, Resume: &engine.Checkpoint{
		Store:   engine.Store{"k": "persisted"},
		Records: []engine.TaskRecord{{Name: "a", State: engine.StateSuccess, Progress: 1}, {Name: "b", State: engine.StateRunning}},
	}})
	if res.Status != engine.StatusFinished {
		t.Fatalf("status %s %v", res.Status, res.Err)
	}
	if got := f.j.String(); got != "run:b(k=persisted)" {
		t.Fatalf("journal: %s", got)
	}
}

type closer struct{ closed *bool }

func (c closer) Close() error { *c.closed = true; return nil }

type sharedTask struct{ seen *[]any }

func (s sharedTask) Execute(_ context.Context, env *engine.Env, _ engine.Store) (engine.Store, error) {
	v, err := env.Shared("k", func() (any, error) { b := false; return closer{&b}, nil })
	*s.seen = append(*s.seen, v)
	return nil, err
}
func (sharedTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

func TestSharedValuesLiveForOneRun(t *testing.T) {
	var seen []any
	reg := engine.NewRegistry()
	for _, n := range []string{"a", "b"} {
		reg.Register(engine.Spec{Name: n, New: func(conf.Section) (engine.Task, error) { return sharedTask{&seen}, nil }})
	}
	cfg := &conf.Config{Flows: map[conf.FlowKind]conf.FlowSpec{conf.FlowInstance: flowSpec(conf.FlowInstance, "a", "b", "")}}
	fl, _ := engine.Build(reg, cfg, conf.FlowInstance)
	r := newRunner(nil)
	r.Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
	r.Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
	if len(seen) != 4 || seen[0] != seen[1] || seen[1] == seen[2] || seen[2] != seen[3] {
		t.Fatalf("shared values per run: %v", seen)
	}
	if !*seen[0].(closer).closed {
		t.Fatal("shared value not closed at the end of the run")
	}
}

// A crash after a task ended the flow early (its SUCCESS record and the store
// are persisted) but before the notification's final status was stored must
// not, on resume, go on with the tasks the skip or ignore had ruled out.
func TestResumeAfterEarlyEndDoesNotRunTheRest(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status string
	}{
		{engine.Skip("Skipping recovery for instance: i as it is not Ha_Enabled"), engine.StatusFinished},
		{engine.Ignore("Recovery of instance 'i' is ignored as it is in 'paused' state."), engine.StatusIgnored},
	} {
		f := newFixture()
		f.add(engine.Spec{Name: "stop"}, &testTask{fail: func(engine.Store) error { return tc.err }})
		f.add(engine.Spec{Name: "start"}, &testTask{})
		fl := f.build(t, flowSpec(conf.FlowInstance, "stop", "start", ""))
		var events []engine.Event
		newRunner(&events).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}})
		// What the persistence listener saved: the record and store of the
		// last task event.
		cp := &engine.Checkpoint{}
		for _, e := range events {
			if e.Type == engine.TaskSucceeded {
				cp.Store = e.Store
				cp.Records = []engine.TaskRecord{e.Record}
			}
		}
		if cp.Records == nil {
			t.Fatalf("%v: no TaskSucceeded event for the early end", tc.err)
		}
		res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{}, Resume: cp})
		if got := f.j.String(); got != "run:stop" {
			t.Errorf("%v: journal after resume %q, want %q", tc.err, got, "run:stop")
		}
		if res.Status != tc.status || res.Err == nil || res.Err.Error() != tc.err.Error() {
			t.Errorf("%v: resumed run ended %s (%v), want %s", tc.err, res.Status, res.Err, tc.status)
		}
	}
}
