package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// The writes of a run (its task records, flow stores, vm moves and server
// locks) go through one writer, which commits every write queued while the
// previous commit ran in one transaction: a recovery of many servers makes
// a few commits, not several per server.
//
// A write is either waited for (commit: it is on disk when the call
// returns) or left behind (behind: the call returns at once). Either way it
// is committed in queue order: a waited-for write is on disk only with
// every write queued before it. A queued write may be replaced by a later
// one of the same row (see write): a task's record written again before the
// first write was committed is written once, in its newest form.
//
// A write left behind may be held (held): it waits up to the writer's hold
// for newer forms of its row before it is committed, so that a task's
// progress, whose record grows with every entry, is written a few times a
// second rather than with every commit of the run. Held writes are the one
// exception to queue order, and a narrow one: a held write is committed
// before any later write of its row that does not replace it (a task's
// end), and before a write that releases (a notification's final status,
// Flush).
//
// A write left behind may instead ride (lazy): it goes with the next batch
// committed for any other reason, or on its own once the hold has passed. A
// host recovery's pending vm moves ride with the record of its first
// server's lock, and the deletion of a server's lock record with the next
// one, rather than cost a commit of their own.
type writer struct {
	mu      sync.Mutex
	queue   []*write
	byRow   map[string]*write
	wake    chan struct{} // one token: the queue has writes
	running bool
	// hold is how long a held write may wait (progressHold unless a test
	// sets it before the first write).
	hold time.Duration
}

// progressHold is how long a held write (a task's progress, a vm move's
// update) may wait for a newer form of its row: what the API shows of a
// running task is at most this late.
const progressHold = 250 * time.Millisecond

// write is one queued write: run makes it inside the batch's transaction.
// row names what it writes, for the writes that replace a queued one:
// a write with replace set replaces the queued write of the same row that
// had replace set; a write of a row without replace replaces nothing, and
// the writes of its row queued after it stand after it.
type write struct {
	row     string
	replace bool
	run     func(*batch) error
	// fold, when set, folds this write into the queued one it replaces
	// (whose run then writes both), instead of taking its place.
	fold func(queued *write)
	data any // what fold reads of the queued write
	// waiters are answered with the write's outcome once it is committed;
	// failed is told the failure of a write left behind.
	waiters []chan error
	failed  func(error)
	// held marks a write left behind that may wait for newer forms of its
	// row; due is when its wait ends (set when it is queued).
	held bool
	due  time.Time
	// lazy marks a write left behind that is committed with the next batch,
	// or at due when no batch comes before.
	lazy bool
	// release commits every held write queued before it with it.
	release bool
}

// batch is the transaction of one commit, with what its writes share: the
// statements prepared on it and the ownership checks made in it.
type batch struct {
	ctx context.Context // ends batchTimeout after the batch began
	*sql.Tx
	db    *DB
	stmts map[string]*sql.Stmt
	owned map[[2]string]error
	flows map[[2]string]bool
}

// stmt returns a hot statement bound to the batch's transaction, once per
// batch.
func (b *batch) stmt(query string) stmtRunner {
	if st, ok := b.stmts[query]; ok {
		return stmtRunner{st: st}
	}
	r := b.db.prepared(b.Tx, b.db.w, query)
	if r.err == nil && !r.close {
		if b.stmts == nil {
			b.stmts = map[string]*sql.Stmt{}
		}
		b.stmts[query] = r.st
	}
	return r
}

// batchTimeout bounds one batch: a database that does not answer fails the
// batch's writes rather than holding the writer, and Close, for ever.
const batchTimeout = 20 * time.Second

// errAllRefused ends a batch whose every write was refused, without a
// commit.
var errAllRefused = errors.New("every write of the batch was refused")

// refused marks an error of a write that wrote nothing (the notification
// is not the caller's, a create failed Masakari's checks): the other writes
// of the batch are committed.
type refused struct{ error }

func (r refused) Unwrap() error { return r.error }

// commit queues w and waits until it is committed, ctx ends or the database
// closes. A write whose wait ended may still be committed. A pool of
// clock.Each in ctx is told of the wait.
func (db *DB) commit(ctx context.Context, w *write) error {
	done := make(chan error, 1)
	if err := db.enqueue(w, done); err != nil {
		return err
	}
	clock.Waiting(ctx)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await queues w and waits until it is committed, whatever the caller's
// context (a batch's time is bounded), or the database closes before it is
// queued.
func (db *DB) await(w *write) error {
	done := make(chan error, 1)
	if err := db.enqueue(w, done); err != nil {
		return err
	}
	return <-done
}

// behind queues w without waiting for it; w.failed, when set, is told why
// it failed.
func (db *DB) behind(w *write) {
	if err := db.enqueue(w, nil); err != nil && w.failed != nil {
		w.failed(err)
	}
}

func (db *DB) enqueue(w *write, done chan error) error {
	wr := &db.writer
	wr.mu.Lock()
	defer wr.mu.Unlock()
	select {
	case <-db.closing:
		return errors.New("database is closing")
	default:
	}
	if !wr.running {
		wr.running = true
		wr.wake = make(chan struct{}, 1)
		wr.byRow = map[string]*write{}
		if wr.hold == 0 {
			wr.hold = progressHold
		}
		db.writerDone = make(chan struct{})
		go db.writeLoop()
	}
	if q := wr.byRow[w.row]; w.replace && q != nil {
		if w.fold != nil {
			w.fold(q)
		} else {
			q.run = w.run
		}
		if !w.held && q.held {
			// A write that is not held (a task's end) does not wait in
			// the held one it replaces. A held one keeps the wait of the
			// first: a task's record is written at least every hold.
			q.held, q.due = false, time.Time{}
			wr.signal()
		}
		if done != nil {
			q.waiters = append(q.waiters, done)
		}
		if q.failed == nil {
			q.failed = w.failed
		}
		return nil
	}
	if done != nil {
		w.waiters = []chan error{done}
	}
	if w.held || w.lazy {
		w.due = time.Now().Add(wr.hold)
	}
	wr.queue = append(wr.queue, w)
	switch {
	case w.replace:
		wr.byRow[w.row] = w
	case w.row != "":
		if q := wr.byRow[w.row]; q != nil {
			// Committed before the write of its row that stands after it.
			q.held, q.due = false, time.Time{}
		}
		delete(wr.byRow, w.row)
	}
	if w.release {
		for _, q := range wr.queue {
			q.held, q.lazy, q.due = false, false, time.Time{}
		}
	}
	wr.signal()
	return nil
}

// signal wakes the write loop. Callers hold wr.mu.
func (wr *writer) signal() {
	select {
	case wr.wake <- struct{}{}:
	default:
	}
}

// take takes the queued writes to commit now, in queue order: all of them
// when all is set, else all but those whose wait has not ended at now: the
// held ones, and the lazy ones when no other write is to be committed. next
// is the end of the earliest wait of the writes it left (zero when none).
func (wr *writer) take(now time.Time, all bool) (ready []*write, next time.Time) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	waits := func(w *write) bool { return !all && (w.held || w.lazy) && w.due.After(now) }
	batch := false // a write is to be committed now: the lazy ones go with it
	for _, w := range wr.queue {
		if !waits(w) {
			batch = true
			break
		}
	}
	var kept []*write
	for _, w := range wr.queue {
		if waits(w) && !(w.lazy && batch) {
			kept = append(kept, w)
			if next.IsZero() || w.due.Before(next) {
				next = w.due
			}
			continue
		}
		ready = append(ready, w)
		if wr.byRow[w.row] == w {
			// Being committed: a later write of its row is one of its own.
			delete(wr.byRow, w.row)
		}
	}
	wr.queue = kept
	return ready, next
}

// writeLoop commits the queued writes until the database closes; what is
// queued then, held or not, is committed before it returns.
func (db *DB) writeLoop() {
	defer close(db.writerDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-db.writer.wake:
		case <-timer.C:
		case <-db.closing:
			ready, _ := db.writer.take(time.Time{}, true)
			db.commitBatch(ready)
			return
		}
		ready, next := db.writer.take(time.Now(), false)
		db.commitBatch(ready)
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(next))
		}
	}
}

// commitBatch commits ws in one transaction. A write refused (it wrote
// nothing) does not stop the others; any other failure rolls the batch
// back, and each write is then made in a transaction of its own, so that
// one bad write fails alone.
func (db *DB) commitBatch(ws []*write) {
	if len(ws) == 0 {
		return
	}
	errs := make([]error, len(ws))
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		b := db.newBatch(ctx, tx)
		wrote := false
		for i, w := range ws {
			errs[i] = w.run(b)
			var r refused
			if errs[i] != nil && !errors.As(errs[i], &r) {
				return errs[i]
			}
			wrote = wrote || errs[i] == nil
		}
		if !wrote {
			// Nothing to commit: a commit would not show that writes work.
			return errAllRefused
		}
		return nil
	})
	if errors.Is(err, errAllRefused) {
		err = nil
	}
	if err != nil && len(ws) > 1 {
		for i, w := range ws {
			ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
			errs[i] = db.tx(ctx, func(tx *sql.Tx) error { return w.run(db.newBatch(ctx, tx)) })
			cancel()
		}
	} else if err != nil {
		errs[0] = err
	}
	for i, w := range ws {
		err := errs[i]
		var r refused
		if errors.As(err, &r) {
			err = r.error
		}
		if err != nil && w.failed != nil {
			w.failed(err)
		}
		for _, c := range w.waiters {
			c <- err
		}
	}
}

func (db *DB) newBatch(ctx context.Context, tx *sql.Tx) *batch {
	return &batch{ctx: ctx, Tx: tx, db: db}
}

// owns checks, once per batch, that owner holds the running notification id;
// the row stays locked until the batch commits, so a claim by another engine
// after the lease expired cannot slip in between.
func (b *batch) owns(ctx context.Context, id, owner string) error {
	k := [2]string{id, owner}
	if err, ok := b.owned[k]; ok {
		return err
	}
	var n int64
	err := b.stmt(ownsQuery+b.db.d.RowLock).QueryRowContext(ctx, id, owner).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = refused{ErrNotOwner}
	} else if err != nil {
		err = fmt.Errorf("check the owner of notification %s: %w", id, err)
	}
	if b.owned == nil {
		b.owned = map[[2]string]error{}
	}
	b.owned[k] = err
	return err
}

// Flush waits until every write queued before it is committed, held or
// not (a write that failed was told to its failed function).
func (db *DB) Flush(ctx context.Context) error {
	return db.commit(ctx, &write{release: true, run: func(*batch) error { return nil }})
}
