package builtin_test

import (
	"context"
	"slices"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// recorded returns the servers whose lock the harness's notification has on
// record.
func (h *harness) recorded() []string {
	h.t.Helper()
	ids, err := h.locks.ServerLocks(context.Background(), harnessNotification)
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// The resume after a daemon was killed mid-evacuation: the server is still
// locked by the dead run, which recorded the lock before taking it. The
// resumed task knows the lock for its own: it evacuates the server as usual
// and unlocks it, instead of taking it for a user's lock and leaving it
// locked for good.
func TestEvacuateReleasesItsOwnLockAfterACrash(t *testing.T) {
	s := haServer(1, "compute1")
	s.Locked = true
	h := newHarness(t, failedHostCloud(s))
	if err := h.locks.RecordServerLock(context.Background(), harnessNotification, uid(1)); err != nil {
		t.Fatal(err)
	}
	h.succeed("evacuate_instances_task", evacStore(uid(1)))
	srv := h.server(uid(1))
	if srv.Host != "compute2" || srv.Locked {
		t.Fatalf("server on %s, locked %v; want evacuated to compute2 and unlocked", srv.Host, srv.Locked)
	}
	if h.serverOps(uid(1), "lock") != 0 || h.serverOps(uid(1), "unlock") != 1 || h.serverOps(uid(1), "evacuate") != 1 {
		t.Fatalf("calls %v, want the recorded lock kept through one evacuation, then one unlock", h.cloud.Counters().Servers[uid(1)])
	}
	if got := h.recorded(); len(got) != 0 {
		t.Fatalf("locks still recorded: %v", got)
	}
}

// The dead run had already moved the server when it was killed, before its
// unlock: the resumed task does not evacuate it again, but releases its lock.
func TestEvacuateReleasesItsOwnLockOfAServerAlreadyMoved(t *testing.T) {
	s := haServer(1, "compute2")
	s.Locked = true
	h := newHarness(t, failedHostCloud(s, haServer(2, "compute1")))
	if err := h.locks.RecordServerLock(context.Background(), harnessNotification, uid(1)); err != nil {
		t.Fatal(err)
	}
	h.succeed("evacuate_instances_task", evacStore(uid(1), uid(2)))
	if srv := h.server(uid(1)); srv.Locked || h.serverOps(uid(1), "evacuate") != 0 || h.serverOps(uid(1), "unlock") != 1 {
		t.Fatalf("locked %v, calls %v; want unlocked once and not evacuated again", srv.Locked, h.cloud.Counters().Servers[uid(1)])
	}
	if got := h.recorded(); len(got) != 0 {
		t.Fatalf("locks still recorded: %v", got)
	}
}

// A lock without a record of this notification is someone else's, even when
// another notification recorded one for the server: it stays, moved or not.
func TestEvacuateKeepsALockItDidNotRecordAlone(t *testing.T) {
	a, b := haServer(1, "compute1"), haServer(2, "compute2")
	a.Locked, b.Locked = true, true
	h := newHarness(t, failedHostCloud(a, b))
	if err := h.locks.RecordServerLock(context.Background(), "another-notification", uid(1)); err != nil {
		t.Fatal(err)
	}
	h.succeed("evacuate_instances_task", evacStore(uid(1), uid(2)))
	for _, id := range []string{uid(1), uid(2)} {
		if !h.server(id).Locked || h.serverOps(id, "lock") != 0 || h.serverOps(id, "unlock") != 0 {
			t.Fatalf("server %s locked %v, calls %v; want the lock untouched", id, h.server(id).Locked, h.cloud.Counters().Servers[id])
		}
	}
	if h.server(uid(1)).Host != "compute2" {
		t.Fatal("the user's locked server was not evacuated")
	}
}

// recordCheckCloud checks, when Nova is asked for a lock, that the lock is
// already on record: a daemon killed right after Nova locked the server must
// have left the record.
type recordCheckCloud struct {
	compute.Cloud
	h       *harness
	missing []string
}

func (c *recordCheckCloud) Lock(ctx context.Context, id string) error {
	if !slices.Contains(c.h.recorded(), id) {
		c.missing = append(c.missing, id)
	}
	return c.Cloud.Lock(ctx, id)
}

func TestEvacuateRecordsALockBeforeTakingItAndForgetsIt(t *testing.T) {
	h := newHarness(t, failedHostCloud(haServer(1, "compute1"), haServer(2, "compute1")))
	rc := &recordCheckCloud{Cloud: h.cloud, h: h}
	h.nova = rc
	h.succeed("evacuate_instances_task", evacStore(uid(1), uid(2)))
	if len(rc.missing) != 0 {
		t.Fatalf("Nova asked to lock %v before the lock was on record", rc.missing)
	}
	if h.serverOps(uid(1), "lock") != 1 || h.serverOps(uid(2), "lock") != 1 {
		t.Fatalf("calls %v", h.cloud.Counters().Servers)
	}
	if got := h.recorded(); len(got) != 0 {
		t.Fatalf("locks still recorded after the unlocks: %v", got)
	}
}

// An unlock Nova refused keeps the record, for the notification's end to
// release; a lock Nova refused leaves none.
func TestEvacuateKeepsTheRecordOfALockItCouldNotRelease(t *testing.T) {
	fx := failedHostCloud(haServer(1, "compute1"), haServer(2, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "unlock", Server: uid(1), Error: "unavailable"}, {Op: "lock", Server: uid(2), Error: "unavailable"}}
	h := newHarness(t, fx)
	h.run(context.Background(), "evacuate_instances_task", evacStore(uid(1), uid(2)))
	if got := h.recorded(); !slices.Equal(got, []string{uid(1)}) {
		t.Fatalf("recorded %v, want only the server whose unlock failed", got)
	}
}
