package recovery_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// unlocker records the servers it unlocks and refuses those in refuse.
type unlocker struct {
	mu       sync.Mutex
	unlocked []string
	refuse   map[string]bool
}

func (u *unlocker) Unlock(_ context.Context, id string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.refuse[id] {
		return errors.New("nova: 500")
	}
	u.unlocked = append(u.unlocked, id)
	return nil
}

// When a notification ends, the servers whose lock its recovery still has on
// record (a lock a killed run left behind and no resumed task released, or
// an unlock that failed) are unlocked and forgotten, whatever the end; an
// interrupted recovery keeps them for its resumed tasks, and the records of
// other notifications are left alone.
func TestTheEndOfANotificationReleasesItsRecordedServerLocks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fail     bool // the flow fails
		drain    bool // the flow is interrupted
		refuse   string
		status   string
		unlocked []string
		left     []string
	}{
		{name: "finished", status: "finished", unlocked: []string{"vm1", "vm2"}},
		{name: "error", fail: true, status: "error", unlocked: []string{"vm1", "vm2"}},
		{name: "interrupted", drain: true, status: "error", left: []string{"vm1", "vm2"}},
		{name: "unlock refused", refuse: "vm2", status: "finished", unlocked: []string{"vm1"}, left: []string{"vm2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			locks := engine.NewLocalServerLocks()
			u := &unlocker{refuse: map[string]bool{tc.refuse: true}}
			w.mgr.ServerLocks, w.mgr.Unlocker = locks, u
			for _, r := range [][2]string{{"n-1", "vm2"}, {"n-1", "vm1"}, {"n-2", "vm3"}} {
				if err := locks.RecordServerLock(ctx, r[0], r[1]); err != nil {
					t.Fatal(err)
				}
			}
			if tc.fail {
				w.fail["evacuate"] = func(engine.Store) error { return errors.New("boom") }
			}
			if tc.drain {
				drain := make(chan struct{})
				w.mgr.Runner.Drain = drain
				w.fail["disable"] = func(engine.Store) error { close(drain); return nil }
			}
			out := w.mgr.Process(ctx, hostNote(map[string]string{"event": "STOPPED", "host_status": "NORMAL"}),
				recovery.Host{Name: "compute1", SegmentEnabled: true, RecoveryMethod: "auto"}, w.segs, nil)
			if out.Status != tc.status || out.Interrupted != tc.drain {
				t.Fatalf("status %s interrupted %v (%s)", out.Status, out.Interrupted, out.Message)
			}
			if !slices.Equal(u.unlocked, tc.unlocked) {
				t.Fatalf("unlocked %v, want %v", u.unlocked, tc.unlocked)
			}
			if left, _ := locks.ServerLocks(ctx, "n-1"); !slices.Equal(left, tc.left) && len(left)+len(tc.left) > 0 {
				t.Fatalf("still recorded %v, want %v", left, tc.left)
			}
			if other, _ := locks.ServerLocks(ctx, "n-2"); !slices.Equal(other, []string{"vm3"}) {
				t.Fatalf("another notification's records: %v", other)
			}
		})
	}
}
