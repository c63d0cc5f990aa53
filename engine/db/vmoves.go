package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// VMove is a stored vm move: one server moved by a host recovery.
type VMove struct {
	ID               int64
	UUID             string
	NotificationUUID string
	InstanceUUID     string
	InstanceName     string
	SourceHost       *string
	DestHost         *string
	StartTime        *time.Time
	EndTime          *time.Time
	Type             *string
	Status           *string
	Message          *string
	CreatedAt        time.Time
	UpdatedAt        *time.Time
}

// VMoveFilter filters vm move lists; nil fields match everything.
type VMoveFilter struct {
	Status *string
	Type   *string
}

const vmoveCols = `v.id, v.uuid, v.notification_uuid, v.instance_uuid, v.instance_name, v.source_host, v.dest_host, v.start_time, v.end_time, v.type, v.status, v.message, v.created_at, v.updated_at`

var vmoveSortKeys = map[string]string{"id": "v.id", "uuid": "v.uuid", "notification_uuid": "v.notification_uuid",
	"instance_uuid": "v.instance_uuid", "instance_name": "v.instance_name", "source_host": "v.source_host",
	"dest_host": "v.dest_host", "start_time": "v.start_time", "end_time": "v.end_time", "type": "v.type",
	"status": "v.status", "message": "v.message", "created_at": "v.created_at", "updated_at": "v.updated_at",
	"deleted_at": "v.deleted_at", "deleted": "v.deleted"}

func scanVMove(sc scanner) (VMove, error) {
	var v VMove
	var src, dest, start, end, typ, status, msg, updated sql.NullString
	var created string
	if err := sc.Scan(&v.ID, &v.UUID, &v.NotificationUUID, &v.InstanceUUID, &v.InstanceName, &src, &dest, &start, &end, &typ, &status, &msg, &created, &updated); err != nil {
		return v, err
	}
	v.SourceHost, v.DestHost, v.Type, v.Status, v.Message = nullString(src), nullString(dest), nullString(typ), nullString(status), nullString(msg)
	v.StartTime, v.EndTime = nullTime(start), nullTime(end)
	v.CreatedAt, _ = parseTime(created)
	v.UpdatedAt = nullTime(updated)
	return v, nil
}

func nullString(ns sql.NullString) *string {
	if !ns.Valid {
		return nil
	}
	s := ns.String
	return &s
}

// The writes of vm moves (prepared at open). updateVMoveQuery records a
// server not recorded yet as a pending move with the update applied, and
// otherwise applies the update: empty values and nil times leave a field as
// it is.
const (
	updateVMoveQuery = `INSERT INTO vmoves (uuid, notification_uuid, instance_uuid, instance_name, dest_host, start_time, end_time, type, status, message, created_at, updated_at)
		VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, COALESCE(NULLIF(?, ''), ?), NULLIF(?, ''), ?, ?)
		ON CONFLICT (notification_uuid, instance_uuid) DO UPDATE SET
		  status = COALESCE(NULLIF(?, ''), vmoves.status),
		  instance_name = COALESCE(NULLIF(excluded.instance_name, ''), vmoves.instance_name),
		  dest_host = COALESCE(excluded.dest_host, vmoves.dest_host),
		  message = COALESCE(excluded.message, vmoves.message),
		  start_time = COALESCE(excluded.start_time, vmoves.start_time),
		  end_time = COALESCE(excluded.end_time, vmoves.end_time),
		  updated_at = excluded.updated_at
		WHERE vmoves.deleted = 0`
)

// addVMovesRows is the most servers one statement of AddVMoves records, a
// power of two: a statement for each power of two up to it is prepared at
// open, and a host's servers are recorded in runs of those sizes (10 as 8
// and 2), so that no recovery prepares a statement of its own.
const addVMovesRows = 32

// addVMovesQuery records n servers as pending moves.
func addVMovesQuery(n int) string {
	return `INSERT INTO vmoves (uuid, notification_uuid, instance_uuid, source_host, type, status, created_at) VALUES ` +
		strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n-1) + `(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (notification_uuid, instance_uuid) DO NOTHING`
}

// addVMovesQueries are addVMovesQuery of each power of two up to
// addVMovesRows, by the power.
var addVMovesQueries = func() (qs []string) {
	for n := 1; n <= addVMovesRows; n *= 2 {
		qs = append(qs, addVMovesQuery(n))
	}
	return qs
}()

// AddVMoves implements engine.VMoveRecorder: each server not yet recorded for
// the notification gets a pending row. The rows ride (see writer): the
// recovery's next waited write (the record of a server's lock, before Nova
// is asked for it) commits them, so that a host's recovery does not spend a
// commit on them alone.
func (db *DB) AddVMoves(notificationUUID, sourceHost, moveType string, instances []string, failed func(error)) {
	db.behind(&write{lazy: true, failed: failed, run: func(b *batch) error {
		now := db.stamp()
		for rest := instances; len(rest) > 0; {
			// The largest prepared size that fits.
			p := min(bits.Len(uint(len(rest))), len(addVMovesQueries)) - 1
			n := 1 << p
			chunk := rest[:n]
			rest = rest[n:]
			args := make([]any, 0, 7*n)
			for _, id := range chunk {
				args = append(args, uuid.NewString(), notificationUUID, id, sourceHost, moveType, engine.VMovePending, now)
			}
			if _, err := b.stmt(addVMovesQueries[p]).ExecContext(b.ctx, args...); err != nil {
				return fmt.Errorf("record the vmoves of servers %s to %s: %w", chunk[0], chunk[n-1], err)
			}
		}
		return nil
	}})
}

// UpdateVMove implements engine.VMoveRecorder. A server not recorded yet is
// recorded (an evacuation of a server AddVMoves did not see).
//
// The update is written behind and held (see writer): a later update of the
// server queued before it was written is folded into it (one row write for
// an evacuation's start and end that come within progressHold).
func (db *DB) UpdateVMove(notificationUUID, instanceUUID string, u engine.VMoveUpdate, failed func(error)) {
	v := &vmoveUpdate{u: u, now: db.stamp()}
	db.behind(&write{row: "vmove\x00" + notificationUUID + "\x00" + instanceUUID, replace: true, held: true, failed: failed,
		fold: func(q *write) { q.data.(*vmoveUpdate).then(v) },
		data: v,
		run: func(b *batch) error {
			stamp := func(t *time.Time) any {
				if t == nil {
					return nil
				}
				return formatTime(*t)
			}
			u := v.u
			_, err := b.stmt(updateVMoveQuery).ExecContext(b.ctx,
				uuid.NewString(), notificationUUID, instanceUUID, u.InstanceName, u.DestHost, stamp(u.StartTime), stamp(u.EndTime),
				engine.VMoveEvacuation, u.Status, engine.VMovePending, u.Message, v.now, v.now, u.Status)
			if err != nil {
				return fmt.Errorf("update vmove of server %s (%s): %w", instanceUUID, u.Status, err)
			}
			return nil
		}})
}

// vmoveUpdate is a queued update of a vm move, with the time it was made
// (the newest of the updates folded into it).
type vmoveUpdate struct {
	u   engine.VMoveUpdate
	now string
}

func (v *vmoveUpdate) then(next *vmoveUpdate) {
	v.u, v.now = v.u.Then(next.u), next.now
}

// VMoves lists the vm moves of a notification, paged and sorted as the
// other lists.
func (db *DB) VMoves(ctx context.Context, notificationUUID string, f VMoveFilter, p Page) ([]VMove, error) {
	where, args := []string{"v.notification_uuid = ?"}, []any{notificationUUID}
	if f.Status != nil {
		where, args = append(where, "v.status = ?"), append(args, *f.Status)
	}
	if f.Type != nil {
		where, args = append(where, "v.type = ?"), append(args, *f.Type)
	}
	q, qargs, err := db.paged(ctx, "vmoves v", "v", vmoveSortKeys, where, args, p)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, `SELECT `+vmoveCols+` FROM `+q, qargs, scanVMove)
}

// VMove returns one vm move by its uuid (ErrNotFound), of any notification,
// as Masakari looks it up.
func (db *DB) VMove(ctx context.Context, id string) (VMove, error) {
	v, err := scanVMove(db.r.QueryRowContext(ctx, db.d.q(`SELECT `+vmoveCols+` FROM vmoves v WHERE v.uuid = ? AND v.deleted = 0`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	return v, err
}
