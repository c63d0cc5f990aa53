package db

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// holdWriter makes the writer busy with a write that waits until the
// returned function is called, so that the writes queued meanwhile form
// the next batch.
func holdWriter(t *testing.T, d *DB) (release func()) {
	t.Helper()
	started, wait := make(chan struct{}), make(chan struct{})
	d.behind(&write{run: func(*batch) error { close(started); <-wait; return nil }})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not start the holding write")
	}
	var once sync.Once
	release = func() { once.Do(func() { close(wait) }) }
	t.Cleanup(release)
	return release
}

func queued(d *DB) int {
	d.writer.mu.Lock()
	defer d.writer.mu.Unlock()
	return len(d.writer.queue)
}

// records returns the task records of the notification's flow, by name.
func records(t *testing.T, d *DB, id string) (map[string]string, string) {
	t.Helper()
	runs, err := d.FlowRuns(context.Background(), id)
	if err != nil || len(runs) != 1 {
		t.Fatalf("flow runs %+v, %v", runs, err)
	}
	out := map[string]string{}
	for _, raw := range runs[0].Records {
		var r struct{ Name, State string }
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		out[r.Name] = r.State
	}
	return out, string(runs[0].Store)
}

func TestWriterCommitsWhatQueuedMeanwhileInOneBatch(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		seed(t, d, 1)
		n := claimed(t, d, "h0", "a", 0, time.Now())
		release := holdWriter(t, d)
		var mu sync.Mutex
		batches := map[*batch]int{}
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := d.commit(context.Background(), &write{run: func(b *batch) error {
					mu.Lock()
					batches[b]++
					mu.Unlock()
					return nil
				}})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		for queued(d) < 5 {
			time.Sleep(time.Millisecond)
		}
		release()
		wg.Wait()
		if len(batches) != 1 {
			t.Fatalf("5 writes queued together made %d batches", len(batches))
		}
		// A waited-for write is on disk with the writes left behind (and
		// not held) before it.
		ctx := context.Background()
		locks := ServerLocks{d}
		if err := locks.RecordServerLock(ctx, n.UUID, "s1"); err != nil {
			t.Fatal(err)
		}
		locks.ForgetServerLock(n.UUID, "s1", func(err error) { t.Error(err) })
		if err := d.SaveTask(ctx, n.UUID, "a", "f", "t2", []byte(`{"name":"t2","state":"RUNNING"}`)); err != nil {
			t.Fatal(err)
		}
		if ids, err := locks.ServerLocks(ctx, n.UUID); err != nil || len(ids) != 0 {
			t.Fatalf("server locks %v, %v after the release left behind; want none", ids, err)
		}
	})
}

// setHold sets how long the writer holds progress.
func setHold(d *DB, hold time.Duration) {
	d.writer.mu.Lock()
	defer d.writer.mu.Unlock()
	d.writer.hold = hold
}

func TestWriterHoldsProgressUntilItsRowOrAReleaseNeedsIt(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		seed(t, d, 1)
		n := claimed(t, d, "h0", "a", 0, time.Now())
		ctx := context.Background()
		fail := func(err error) { t.Error(err) }
		setHold(d, time.Hour)
		d.SaveProgress(n.UUID, "a", "f", "t1", encoded([]byte(`{"name":"t1","state":"RUNNING","n":1}`)), fail)
		// Other waited-for writes do not take the held record with them.
		if err := d.SaveTask(ctx, n.UUID, "a", "f", "t2", []byte(`{"name":"t2","state":"RUNNING"}`)); err != nil {
			t.Fatal(err)
		}
		if got, _ := records(t, d, n.UUID); got["t1"] != "" || got["t2"] != "RUNNING" {
			t.Fatalf("records %v; want t2 alone, t1's progress still held", got)
		}
		// The task's end replaces its held progress and is not held.
		if err := d.SaveTask(ctx, n.UUID, "a", "f", "t1", []byte(`{"name":"t1","state":"FAILURE"}`)); err != nil {
			t.Fatal(err)
		}
		if got, _ := records(t, d, n.UUID); got["t1"] != "FAILURE" {
			t.Fatalf("records %v; want t1's end", got)
		}
		// A success, written with the store, stands after the held
		// progress, which is committed before it.
		d.SaveProgress(n.UUID, "a", "f", "t2", encoded([]byte(`{"name":"t2","state":"RUNNING","n":2}`)), fail)
		if err := d.SaveTaskAndStore(ctx, n.UUID, "a", "f", "t2", []byte(`{"name":"t2","state":"SUCCESS"}`), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if got, _ := records(t, d, n.UUID); got["t2"] != "SUCCESS" || queued(d) != 0 {
			t.Fatalf("records %v, %d writes queued; want t2's success, nothing queued", got, queued(d))
		}
		// The final status releases what is held.
		d.SaveProgress(n.UUID, "a", "f", "t3", encoded([]byte(`{"name":"t3","state":"RUNNING"}`)), fail)
		d.UpdateVMove(n.UUID, "s1", engine.VMoveUpdate{Status: engine.VMoveOngoing}, fail)
		if ok, err := d.Finish(ctx, n.UUID, "a", "finished", nil); err != nil || !ok {
			t.Fatalf("finish: %v, %v", ok, err)
		}
		if got, _ := records(t, d, n.UUID); got["t3"] != "RUNNING" {
			t.Fatalf("records %v; want t3's progress, released by the final status", got)
		}
		moves, err := d.VMoves(ctx, n.UUID, VMoveFilter{}, Page{})
		if err != nil || len(moves) != 1 || moves[0].Status == nil || *moves[0].Status != engine.VMoveOngoing {
			t.Fatalf("vmoves %+v, %v; want s1 ongoing", moves, err)
		}
	})
}

func TestWriterCommitsHeldProgressWhenItsHoldEnds(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		seed(t, d, 1)
		n := claimed(t, d, "h0", "a", 0, time.Now())
		setHold(d, 20*time.Millisecond)
		d.SaveProgress(n.UUID, "a", "f", "t", encoded([]byte(`{"name":"t","state":"RUNNING"}`)), func(err error) { t.Error(err) })
		// Nothing else is written: the writer's timer commits it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			runs, err := d.FlowRuns(context.Background(), n.UUID)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) == 1 && len(runs[0].Records) == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("held progress not committed 10 s after its hold of 20 ms ended (%d writes queued)", queued(d))
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func TestWriterWritesATaskRecordOnceInItsNewestForm(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		seed(t, d, 1)
		n := claimed(t, d, "h0", "a", 0, time.Now())
		ctx := context.Background()
		fail := func(err error) { t.Error(err) }
		release := holdWriter(t, d)
		d.SaveProgress(n.UUID, "a", "f", "t", encoded([]byte(`{"name":"t","state":"RUNNING","n":1}`)), fail)
		d.SaveProgress(n.UUID, "a", "f", "t", encoded([]byte(`{"name":"t","state":"RUNNING","n":2}`)), fail)
		if q := queued(d); q != 1 {
			t.Fatalf("two progress records of one task: %d writes queued, want 1", q)
		}
		// The store stands where it was written: a record after it is
		// written after it, not folded into a record before it.
		done := make(chan error, 1)
		go func() {
			done <- d.SaveTaskAndStore(ctx, n.UUID, "a", "f", "t", []byte(`{"name":"t","state":"SUCCESS"}`), []byte(`{"k":1}`))
		}()
		for queued(d) < 2 {
			time.Sleep(time.Millisecond)
		}
		d.SaveProgress(n.UUID, "a", "f", "t", encoded([]byte(`{"name":"t","state":"REVERTED"}`)), fail)
		if q := queued(d); q != 3 {
			t.Fatalf("a record after the task's success: %d writes queued, want 3", q)
		}
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got, store := records(t, d, n.UUID); got["t"] != "REVERTED" || store != `{"k":1}` {
			t.Fatalf("record %v, store %s; want REVERTED and the stored store", got, store)
		}
	})
}

func TestWriterFailsABadWriteAlone(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		seed(t, d, 2)
		n := claimed(t, d, "h0", "a", 0, time.Now())
		other := claimed(t, d, "h1", "b", 1, time.Now())
		ctx := context.Background()
		release := holdWriter(t, d)
		bad := errors.New("bad write")
		errs := make(chan error, 3)
		for _, w := range []func() error{
			// Refused: the notification is another engine's.
			func() error {
				return d.SaveTask(ctx, other.UUID, "a", "f", "t", []byte(`{"name":"t","state":"RUNNING"}`))
			},
			// Failed after writing: the batch is made again write by write.
			func() error {
				return d.commit(ctx, &write{run: func(b *batch) error {
					if _, err := b.Exec(d.d.q(`UPDATE hosts SET name = 'written' WHERE name = 'h1'`)); err != nil {
						return err
					}
					return bad
				}})
			},
			func() error { return d.SaveTask(ctx, n.UUID, "a", "f", "t", []byte(`{"name":"t","state":"RUNNING"}`)) },
		} {
			go func() { errs <- w() }()
		}
		for queued(d) < 3 {
			time.Sleep(time.Millisecond)
		}
		release()
		var got []error
		for range 3 {
			got = append(got, <-errs)
		}
		var notOwner, failed, ok int
		for _, err := range got {
			switch {
			case errors.Is(err, ErrNotOwner):
				notOwner++
			case errors.Is(err, bad):
				failed++
			case err == nil:
				ok++
			}
		}
		if notOwner != 1 || failed != 1 || ok != 1 {
			t.Fatalf("outcomes %v; want one refused, one failed, one written", got)
		}
		if recs, _ := records(t, d, n.UUID); recs["t"] != "RUNNING" {
			t.Fatalf("records %v", recs)
		}
		if _, err := d.HostByName(ctx, "written"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the failed write's change was committed: %v", err)
		}
	})
}

func TestWriterTellsAFailedWriteBehind(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		seed(t, d, 1)
		other := claimed(t, d, "h0", "b", 0, time.Now())
		failed := make(chan error, 1)
		d.SaveProgress(other.UUID, "a", "f", "t", encoded([]byte(`{}`)), func(err error) { failed <- err })
		select {
		case err := <-failed:
			if !errors.Is(err, ErrNotOwner) {
				t.Fatalf("told %v, want ErrNotOwner", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a refused write behind was not told")
		}
	})
}

func TestWriterFoldsTheUpdatesOfAVMove(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		seed(t, d, 1)
		n := claimed(t, d, "h0", "a", 0, time.Now())
		ctx := context.Background()
		id := "11111111-1111-4111-8111-111111111111"
		d.AddVMoves(n.UUID, "h0", engine.VMoveEvacuation, []string{id}, func(err error) { t.Error(err) })
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		end := start.Add(time.Minute)
		fail := func(err error) { t.Error(err) }
		release := holdWriter(t, d)
		d.UpdateVMove(n.UUID, id, engine.VMoveUpdate{Status: engine.VMoveOngoing, InstanceName: "vm", StartTime: &start}, fail)
		d.UpdateVMove(n.UUID, id, engine.VMoveUpdate{Status: engine.VMoveSucceeded, DestHost: "h9", EndTime: &end}, fail)
		if q := queued(d); q != 1 {
			t.Fatalf("two updates of a vm move: %d writes queued, want 1", q)
		}
		release()
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		vs, err := d.VMoves(ctx, n.UUID, VMoveFilter{}, Page{})
		if err != nil || len(vs) != 1 {
			t.Fatalf("vmoves %+v, %v", vs, err)
		}
		v := vs[0]
		if v.Status == nil || *v.Status != engine.VMoveSucceeded || v.InstanceName != "vm" || v.DestHost == nil || *v.DestHost != "h9" ||
			v.StartTime == nil || !v.StartTime.Equal(start) || v.EndTime == nil || !v.EndTime.Equal(end) {
			t.Fatalf("vmove %+v; want both updates", v)
		}
	})
}

func TestCloseCommitsTheWritesLeftBehind(t *testing.T) {
	d, path := openTest(t)
	seed(t, d, 1)
	n := claimed(t, d, "h0", "a", 0, time.Now())
	release := holdWriter(t, d)
	d.SaveProgress(n.UUID, "a", "f", "t", encoded([]byte(`{"name":"t","state":"RUNNING"}`)), func(err error) { t.Error(err) })
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	d2, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if got, _ := records(t, d2, n.UUID); got["t"] != "RUNNING" {
		t.Fatalf("after close and open: records %v", got)
	}
	if err := d.SaveTask(context.Background(), n.UUID, "a", "f", "t", []byte(`{}`)); err == nil {
		t.Fatal("a write after close was taken")
	}
}

// A lazy write (a host's pending vm moves) is not committed on its own while
// its hold lasts; it goes with the next batch committed for another write,
// and alone once the hold has passed.
func TestWriterLazyWriteRidesWithTheNextCommit(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		setHold(d, time.Hour)
		var mu sync.Mutex
		var order []string
		note := func(s string) func(*batch) error {
			return func(*batch) error { mu.Lock(); order = append(order, s); mu.Unlock(); return nil }
		}
		d.behind(&write{lazy: true, run: note("lazy")})
		time.Sleep(50 * time.Millisecond)
		if q := queued(d); q != 1 {
			t.Fatalf("%d writes queued 50 ms after a lazy one with a hold of an hour, want it still queued", q)
		}
		if err := d.commit(ctx, &write{run: note("waited")}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := slices.Clone(order)
		mu.Unlock()
		if !slices.Equal(got, []string{"lazy", "waited"}) {
			t.Fatalf("committed %v, want the lazy write with the waited one, in queue order", got)
		}

		setHold(d, 20*time.Millisecond)
		done := make(chan struct{})
		d.behind(&write{lazy: true, run: func(*batch) error { close(done); return nil }})
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a lazy write alone was not committed 10 s after its hold of 20 ms")
		}
	})
}
