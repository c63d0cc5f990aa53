package service

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

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
