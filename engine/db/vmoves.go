package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// AddVMoves implements engine.VMoveRecorder: each server not yet recorded for
// the notification gets a pending row.
func (db *DB) AddVMoves(ctx context.Context, notificationUUID, sourceHost, moveType string, instances []string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		now := db.stamp()
		for _, id := range instances {
			_, err := tx.ExecContext(ctx, db.d.q(`INSERT INTO vmoves (uuid, notification_uuid, instance_uuid, source_host, type, status, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (notification_uuid, instance_uuid) DO NOTHING`),
				uuid.NewString(), notificationUUID, id, sourceHost, moveType, engine.VMovePending, now)
			if err != nil {
				return fmt.Errorf("record vmove of server %s: %w", id, err)
			}
		}
		return nil
	})
}

// UpdateVMove implements engine.VMoveRecorder. A server not recorded yet is
// recorded (an evacuation of a server AddVMoves did not see).
func (db *DB) UpdateVMove(ctx context.Context, notificationUUID, instanceUUID string, u engine.VMoveUpdate) error {
	var sets []string
	var args []any
	set := func(col string, v any) {
		sets, args = append(sets, col+" = ?"), append(args, v)
	}
	for _, f := range []struct{ col, v string }{{"status", u.Status}, {"instance_name", u.InstanceName}, {"dest_host", u.DestHost}, {"message", u.Message}} {
		if f.v != "" {
			set(f.col, f.v)
		}
	}
	if u.StartTime != nil {
		set("start_time", formatTime(*u.StartTime))
	}
	if u.EndTime != nil {
		set("end_time", formatTime(*u.EndTime))
	}
	now := db.stamp()
	set("updated_at", now)
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.d.q(`INSERT INTO vmoves (uuid, notification_uuid, instance_uuid, type, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (notification_uuid, instance_uuid) DO NOTHING`),
			uuid.NewString(), notificationUUID, instanceUUID, engine.VMoveEvacuation, engine.VMovePending, now)
		if err != nil {
			return fmt.Errorf("record vmove of server %s: %w", instanceUUID, err)
		}
		_, err = tx.ExecContext(ctx, db.d.q(`UPDATE vmoves SET `+strings.Join(sets, ", ")+` WHERE notification_uuid = ? AND instance_uuid = ? AND deleted = 0`),
			append(args, notificationUUID, instanceUUID)...)
		if err != nil {
			return fmt.Errorf("update vmove of server %s: %w", instanceUUID, err)
		}
		return nil
	})
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
