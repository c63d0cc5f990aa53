package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

var (
	claimResume = `SELECT n.id, n.status FROM notifications n
		WHERE n.status = 'running' AND n.deleted = 0 AND (n.lease_until IS NULL OR n.lease_until < ?)
		ORDER BY n.id LIMIT 1`
	claimNew = `SELECT n.id, n.status FROM notifications n
		WHERE n.status = 'new' AND n.deleted = 0 AND NOT EXISTS (
		  SELECT 1 FROM notifications r WHERE r.source_host_uuid = n.source_host_uuid AND r.status = 'running'
		    AND r.deleted = 0 AND r.id <> n.id AND (r.id < n.id OR (r.lease_until IS NOT NULL AND r.lease_until >= ?)))
		ORDER BY n.id LIMIT 1`
	claimTake   = `UPDATE notifications SET status = 'running', owner = ?, lease_until = ?, updated_at = ? WHERE id = ? AND status = ?`
	claimRead   = `SELECT ` + notificationCols + ` FROM notifications n WHERE n.id = ?`
	finishQuery = `UPDATE notifications SET status = ?, message = ?, owner = NULL, lease_until = NULL, updated_at = ? WHERE notification_uuid = ? AND owner = ? AND status = 'running'`
)

// Claim takes the next notification to work on for owner, under a lease
// that ends at leaseUntil, atomically: a notification left running under an
// expired lease (a daemon died: Resumed is set), or else the oldest new one.
// A new notification whose host has another notification running under a
// live lease is not taken, so notifications of one host run one at a time.
// ok is false when there is nothing to do.
func (db *DB) Claim(ctx context.Context, owner string, leaseUntil time.Time) (n Notification, ok bool, err error) {
	now := formatTime(db.now())
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		var status string
		var err error
		if db.d.SingleNode {
			// A notification left running under an expired lease first,
			// then the oldest new one whose host has nothing running.
			err = db.prepared(tx, db.w, claimResume).QueryRowContext(ctx, now).Scan(&id, &status)
			if errors.Is(err, sql.ErrNoRows) {
				err = db.prepared(tx, db.w, claimNew).QueryRowContext(ctx, now).Scan(&id, &status)
			}
		} else {
			id, status, err = db.claimShared(ctx, tx, now)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := db.prepared(tx, db.w, claimTake).ExecContext(ctx,
			owner, formatTime(leaseUntil), db.stamp(), id, status)
		if err != nil {
			return err
		}
		if c, _ := res.RowsAffected(); c != 1 {
			return nil
		}
		n, err = scanNotification(db.prepared(tx, db.w, claimRead).QueryRowContext(ctx, id))
		if err != nil {
			return err
		}
		n.Resumed = status == "running"
		ok = true
		return nil
	})
	return n, ok, err
}

// ClaimRetry takes a notification in status error for the periodic retry:
// it becomes running with the retry flag, under owner's lease. Only one
// caller wins; none does while another notification of the same host runs.
func (db *DB) ClaimRetry(ctx context.Context, id, owner string, leaseUntil time.Time) (n Notification, ok bool, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var host string
		err := tx.QueryRowContext(ctx, db.d.q(`SELECT source_host_uuid FROM notifications WHERE notification_uuid = ? AND status = 'error' AND deleted = 0`), id).Scan(&host)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if got, err := db.lockHost(ctx, tx, host); err != nil || !got {
			return err
		}
		res, err := tx.ExecContext(ctx, db.d.q(`UPDATE notifications SET status = 'running', retry = 1, owner = ?, lease_until = ?, updated_at = ?
			WHERE notification_uuid = ? AND status = 'error' AND deleted = 0 AND NOT EXISTS (
			  SELECT 1 FROM notifications r WHERE r.source_host_uuid = notifications.source_host_uuid
			    AND r.status = 'running' AND r.deleted = 0 AND r.id <> notifications.id)`),
			owner, formatTime(leaseUntil), db.stamp(), id)
		if err != nil {
			return err
		}
		if c, _ := res.RowsAffected(); c != 1 {
			return nil
		}
		if n, err = db.notification(ctx, tx, id); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return n, ok, err
}

// RenewLease extends owner's lease; false when owner no longer holds it.
func (db *DB) RenewLease(ctx context.Context, id, owner string, leaseUntil time.Time) (bool, error) {
	res, err := db.w.ExecContext(ctx, db.d.q(`UPDATE notifications SET lease_until = ? WHERE notification_uuid = ? AND owner = ? AND status = 'running'`),
		formatTime(leaseUntil), id, owner)
	if err != nil {
		return false, err
	}
	c, _ := res.RowsAffected()
	return c == 1, nil
}

// Release gives up owner's lease of a running notification so that the next
// claim resumes it at once (graceful shutdown).
func (db *DB) Release(ctx context.Context, id, owner string) error {
	_, err := db.w.ExecContext(ctx, db.d.q(`UPDATE notifications SET lease_until = NULL WHERE notification_uuid = ? AND owner = ? AND status = 'running'`), id, owner)
	return err
}

// ReleaseAll drops every lease of running notifications. Only for a
// single-daemon database at start: nothing else can be running them.
func (db *DB) ReleaseAll(ctx context.Context) (int, error) {
	if !db.d.SingleNode {
		return 0, fmt.Errorf("release all leases: %s is shared by several daemons; leases expire instead", db.d.Name)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE notifications SET lease_until = NULL WHERE status = 'running' AND deleted = 0`)
	if err != nil {
		return 0, err
	}
	c, _ := res.RowsAffected()
	return int(c), nil
}

// Finish stores the final status of a notification owner runs; false when
// owner had lost it (expired and claimed by another, or failed by expiry).
// It goes through the writer: the run's writes left behind are on disk
// before its final status.
func (db *DB) Finish(ctx context.Context, id, owner, status string, message *string) (bool, error) {
	stamp := db.stamp()
	var c int64
	err := db.commit(ctx, &write{release: true, run: func(b *batch) error {
		res, err := b.stmt(finishQuery).ExecContext(b.ctx, status, message, stamp, id, owner)
		if err != nil {
			return err
		}
		c, _ = res.RowsAffected()
		return nil
	}})
	if err != nil {
		return false, err
	}
	return c == 1, nil
}

// SetStatus sets a notification's status unconditionally from one of from.
func (db *DB) SetStatus(ctx context.Context, id, status string, message *string, from ...string) (bool, error) {
	q := `UPDATE notifications SET status = ?, message = COALESCE(?, message), owner = NULL, lease_until = NULL, updated_at = ? WHERE notification_uuid = ?`
	args := []any{status, message, db.stamp(), id}
	if len(from) > 0 {
		q += ` AND status IN (?` + repeat(", ?", len(from)-1) + `)`
		for _, f := range from {
			args = append(args, f)
		}
	}
	res, err := db.w.ExecContext(ctx, db.d.q(q), args...)
	if err != nil {
		return false, err
	}
	c, _ := res.RowsAffected()
	return c == 1, nil
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// WithStatus lists the uuids and statuses of notifications in the given
// statuses generated before the time (zero: any), oldest first.
func (db *DB) WithStatus(ctx context.Context, before time.Time, statuses ...string) ([]Notification, error) {
	q := `SELECT ` + notificationCols + ` FROM notifications n WHERE n.deleted = 0 AND n.status IN (?` + repeat(", ?", len(statuses)-1) + `)`
	var args []any
	for _, s := range statuses {
		args = append(args, s)
	}
	if !before.IsZero() {
		q += ` AND n.generated_time < ?`
		args = append(args, formatTime(before))
	}
	return queryAll(ctx, db, q+` ORDER BY n.id`, args, scanNotification)
}

// ---- flow progress

// ErrNotOwner is returned by the progress writes of an engine that no
// longer holds the notification's lease: its writes are dropped.
var ErrNotOwner = errors.New("the notification is not held by this engine")

// The writes of a run's progress (prepared at open).
const (
	ownsQuery       = `SELECT id FROM notifications WHERE notification_uuid = ? AND owner = ? AND status = 'running'` // + the dialect's RowLock
	ensureFlowQuery = `INSERT INTO flow_runs (notification_uuid, flow, seq, updated_at)
		VALUES (?, ?, (SELECT COUNT(*) FROM flow_runs WHERE notification_uuid = ?), ?)
		ON CONFLICT (notification_uuid, flow) DO NOTHING`
	saveTaskQuery = `INSERT INTO task_records (notification_uuid, flow, task, position, record, updated_at)
		VALUES (?, ?, ?, (SELECT COUNT(*) FROM task_records WHERE notification_uuid = ? AND flow = ?), ?, ?)
		ON CONFLICT (notification_uuid, flow, task) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`
	saveStoreQuery = `UPDATE flow_runs SET store = ?, updated_at = ? WHERE notification_uuid = ? AND flow = ?`
)

// SaveTask stores a task's record (JSON) at its position in a flow run,
// creating the flow run row on first use; only while owner holds the
// notification. It returns once the record is on disk.
func (db *DB) SaveTask(ctx context.Context, id, owner, flow, task string, record []byte) error {
	return db.commit(ctx, db.taskWrite(id, owner, flow, task, encoded(record), nil))
}

// SaveProgress is SaveTask without the wait, for the records a task's
// start and progress write: the record is held (see writer) and committed
// within progressHold, or replaced by a newer record of the task before
// that. record is called when the write is made, so that a record replaced
// before then is never encoded: a host's evacuation task makes a record per
// server, each longer than the one before. failed is told why a write
// failed. A crash may lose the newest progress of a task that had not
// ended; what a resume needs (a task's end and the flow store) is written
// by SaveTask and SaveTaskAndStore, which wait.
func (db *DB) SaveProgress(id, owner, flow, task string, record func() ([]byte, error), failed func(error)) {
	w := db.taskWrite(id, owner, flow, task, record, nil)
	w.failed, w.held = failed, true
	db.behind(w)
}

// SaveTaskAndStore stores a task's record and the flow store in one
// transaction (after a task succeeded), only while owner holds the
// notification.
func (db *DB) SaveTaskAndStore(ctx context.Context, id, owner, flow, task string, record, store []byte) error {
	return db.commit(ctx, db.taskWrite(id, owner, flow, task, encoded(record), store))
}

// SaveStore stores the flow store alone (the reserved-host flow moved on to
// its next reserved host), creating the flow run row on first use; only
// while owner holds the notification.
func (db *DB) SaveStore(ctx context.Context, id, owner, flow string, store []byte) error {
	return db.commit(ctx, &write{run: db.progressWrite(id, owner, flow, nil, store)})
}

// taskWrite writes a task's record, encoded by record when the write is
// made, and the flow store when store is set. A record alone may replace a
// queued record of the task: it is the task's whole state.
func (db *DB) taskWrite(id, owner, flow, task string, record func() ([]byte, error), store []byte) *write {
	return &write{row: "task\x00" + id + "\x00" + flow + "\x00" + task, replace: store == nil,
		run: db.progressWrite(id, owner, flow, func(b *batch, now string) error {
			rec, err := record()
			if err != nil {
				return fmt.Errorf("encode the record of task %s: %w", task, err)
			}
			_, err = b.stmt(saveTaskQuery).ExecContext(b.ctx, id, flow, task, id, flow, string(rec), now)
			return err
		}, store)}
}

// encoded is a record already encoded, for taskWrite.
func encoded(record []byte) func() ([]byte, error) {
	return func() ([]byte, error) { return record, nil }
}

// progressWrite checks that owner holds the notification, makes sure the
// flow run row exists, then runs write (when set) and stores store (when
// set).
func (db *DB) progressWrite(id, owner, flow string, write func(b *batch, now string) error, store []byte) func(*batch) error {
	now := formatTime(db.now())
	return func(b *batch) error {
		ctx := b.ctx
		if err := b.owns(ctx, id, owner); err != nil {
			return err
		}
		if f := [2]string{id, flow}; !b.flows[f] {
			if _, err := b.stmt(ensureFlowQuery).ExecContext(ctx, id, flow, id, now); err != nil {
				return err
			}
			if b.flows == nil {
				b.flows = map[[2]string]bool{}
			}
			b.flows[f] = true
		}
		if write != nil {
			if err := write(b, now); err != nil {
				return err
			}
		}
		if store != nil {
			_, err := b.stmt(saveStoreQuery).ExecContext(ctx, string(store), now, id, flow)
			return err
		}
		return nil
	}
}

// FlowRuns returns the persisted flow runs of a notification in the order
// they started, each with its task records in flow order.
func (db *DB) FlowRuns(ctx context.Context, id string) ([]FlowRun, error) {
	rows, err := db.r.QueryContext(ctx, db.d.q(`SELECT f.flow, f.seq, f.store, t.record FROM flow_runs f
		LEFT JOIN task_records t ON t.notification_uuid = f.notification_uuid AND t.flow = f.flow
		WHERE f.notification_uuid = ? ORDER BY f.seq, t.position`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FlowRun
	for rows.Next() {
		var flow string
		var seq int
		var store, rec sql.NullString
		if err := rows.Scan(&flow, &seq, &store, &rec); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Flow != flow {
			fr := FlowRun{Flow: flow, Seq: seq}
			if store.Valid {
				fr.Store = json.RawMessage(store.String)
			}
			out = append(out, fr)
		}
		if rec.Valid {
			last := &out[len(out)-1]
			last.Records = append(last.Records, json.RawMessage(rec.String))
		}
	}
	return out, rows.Err()
}

// ClearProgress forgets the persisted runs of a notification (before a
// retry, which runs every task again).
func (db *DB) ClearProgress(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.d.q(`DELETE FROM task_records WHERE notification_uuid = ?`), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.d.q(`DELETE FROM flow_runs WHERE notification_uuid = ?`), id)
		return err
	})
}
