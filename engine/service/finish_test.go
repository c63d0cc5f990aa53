package service

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/db"
)

// failingFinish is a database whose final status writes fail until left
// reaches zero.
type failingFinish struct {
	*db.DB
	left, calls atomic.Int32
}

func (f *failingFinish) Finish(ctx context.Context, id, owner, status string, message *string) (bool, error) {
	f.calls.Add(1)
	if f.left.Add(-1) >= 0 {
		return false, errors.New("disk I/O error")
	}
	return f.DB.Finish(ctx, id, owner, status, message)
}

// A final status that cannot be written at once is written once the
// database answers again, while the engine still holds the lease: the
// errored flow is not left running for another engine to run again.
func TestFailedFinalStatusWriteIsTriedAgain(t *testing.T) {
	r := newRig(t, true, nil, true)
	store := &failingFinish{DB: r.db}
	store.left.Store(3)
	log := logrus.New()
	log.SetOutput(io.Discard)
	hook := &messages{}
	log.AddHook(hook)
	svc := r.serviceOn(store, log, Options{Workers: 1, Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc.Start(ctx)
	id := r.notify()
	svc.Wake()
	waitFor(t, "the first write", func() bool { return store.calls.Load() > 0 })
	for i := 0; ; i++ {
		n, err := r.db.Notification(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if n.Status == "error" {
			break
		}
		if i == 1000 {
			t.Fatalf("status %s after %d write attempts", n.Status, store.calls.Load())
		}
		r.clk.Advance(finishRetry)
		time.Sleep(2 * time.Millisecond)
	}
	if got := store.calls.Load(); got != 4 {
		t.Errorf("write attempts: %d, want 4", got)
	}
	if r.first.Load() != 1 || r.last.Load() != 1 {
		t.Errorf("runs: first %d, second %d; want 1 and 1", r.first.Load(), r.last.Load())
	}
	if !hook.has("stored final status error at attempt 4") {
		t.Errorf("log: %q", hook.msgs)
	}
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// hangingRenewal is a database whose lease renewals hang until their
// context ends, as after a pause the renewal has not yet got through.
type hangingRenewal struct{ *db.DB }

func (h *hangingRenewal) RenewLease(ctx context.Context, _, _ string, _ time.Time) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

// writingTask waits for release, then stops a server through the cloud.
type writingTask struct {
	cloud   compute.Cloud
	release chan struct{}
	err     chan error
}

func (w *writingTask) Execute(ctx context.Context, _ *engine.Env, _ engine.Store) (engine.Store, error) {
	<-w.release
	err := w.cloud.Stop(ctx, "11111111-1111-4111-8111-111111111111")
	w.err <- err
	return nil, err
}

func (w *writingTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

// stopCounter counts the stops that reach the cloud.
type stopCounter struct {
	compute.Cloud
	stops atomic.Int32
}

func (s *stopCounter) Stop(context.Context, string) error { s.stops.Add(1); return nil }

// An engine that wakes after a pause longer than its lease makes no cloud
// write before its renewal has caught up: another engine may hold the
// notification by then.
func TestWritesStopWhenTheLeaseHasExpired(t *testing.T) {
	r := newRig(t, false, nil, true)
	cloud := &stopCounter{}
	task := &writingTask{cloud: compute.Guarded(cloud), release: make(chan struct{}), err: make(chan error, 1)}
	r.flows[conf.FlowInstance].Phases[conf.Main][1].Task = task
	log := logrus.New()
	log.SetOutput(io.Discard)
	const lease = 3 * time.Second // the hanging renewal gives up after lease/3 of real time
	svc := r.serviceOn(&hangingRenewal{DB: r.db}, log, Options{Workers: 1, Lease: lease, Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc.Start(ctx)
	r.notify()
	svc.Wake()
	waitFor(t, "the first task", func() bool { return r.first.Load() > 0 })
	blockUntil(t, r.clk, 3)
	r.clk.Advance(2 * lease) // the pause
	close(task.release)
	err := <-task.err
	if cloud.stops.Load() != 0 {
		t.Fatalf("a stop reached the cloud after the lease expired (err %v)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "lease of notification") && !errors.Is(err, context.Canceled) {
		t.Errorf("the write failed with %v, want the lease refusal", err)
	}
	svc.Stop(ctx)
}
