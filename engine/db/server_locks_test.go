package db

import (
	"context"
	"slices"
	"testing"
	"time"
)

// The records of the locks a recovery took outlive the daemon that wrote
// them: another daemon of the database reads them, for that notification
// only, and recording or forgetting twice is harmless.
func TestServerLocks(t *testing.T) {
	eachDialect(t, 2, func(t *testing.T, ds []*DB) {
		ctx := context.Background()
		a, b := ServerLocks{DB: ds[0]}, ServerLocks{DB: ds[len(ds)-1]}
		for _, id := range []string{"vm-b", "vm-a", "vm-b"} {
			if err := a.RecordServerLock(ctx, "n1", id); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.RecordServerLock(ctx, "n2", "vm-c"); err != nil {
			t.Fatal(err)
		}
		if got, err := b.ServerLocks(ctx, "n1"); err != nil || !slices.Equal(got, []string{"vm-a", "vm-b"}) {
			t.Fatalf("n1 from the other daemon: %v %v", got, err)
		}
		for range 2 {
			b.ForgetServerLock("n1", "vm-a", func(err error) { t.Error(err) })
			if err := b.DB.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := a.ServerLocks(ctx, "n1"); err != nil || !slices.Equal(got, []string{"vm-b"}) {
			t.Fatalf("n1 after forgetting vm-a: %v %v", got, err)
		}
		if got, err := a.ServerLocks(ctx, "n2"); err != nil || !slices.Equal(got, []string{"vm-c"}) {
			t.Fatalf("n2: %v %v", got, err)
		}
		if got, err := a.ServerLocks(ctx, "none"); err != nil || len(got) != 0 {
			t.Fatalf("a notification without locks: %v %v", got, err)
		}
	})
}

// A forgotten lock's record goes with the next lock recorded, not in a
// commit of its own: once the next record is on disk, so is the forget.
func TestForgetServerLockRidesWithTheNextRecord(t *testing.T) {
	eachDialect(t, 1, func(t *testing.T, ds []*DB) {
		ctx := context.Background()
		l := ServerLocks{DB: ds[0]}
		setHold(l.DB, time.Hour) // only another commit can take the forget
		if err := l.RecordServerLock(ctx, "n1", "vm-a"); err != nil {
			t.Fatal(err)
		}
		l.ForgetServerLock("n1", "vm-a", func(err error) { t.Error(err) })
		if got, err := l.ServerLocks(ctx, "n1"); err != nil || !slices.Equal(got, []string{"vm-a"}) {
			t.Fatalf("before the next commit: %v %v, want the record still there", got, err)
		}
		if err := l.RecordServerLock(ctx, "n1", "vm-b"); err != nil {
			t.Fatal(err)
		}
		if got, err := l.ServerLocks(ctx, "n1"); err != nil || !slices.Equal(got, []string{"vm-b"}) {
			t.Fatalf("after the next record: %v %v, want vm-b alone", got, err)
		}
	})
}
