package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
)

type holderKey struct{}

type holder struct{ notification, owner string }

// WithHolder returns a context whose locks (Locker.TryLock) are held by the
// notification, run by the daemon owner: the lock lives as long as that
// notification runs under that daemon's lease, so a daemon that dies
// releases its locks when its leases expire.
func WithHolder(ctx context.Context, notificationUUID, owner string) context.Context {
	return context.WithValue(ctx, holderKey{}, holder{notificationUUID, owner})
}

// Locker is an engine.Locker in the database, shared by every daemon using
// it (Masakari's lock is process-local). A lock is held by the notification
// named in the context (WithHolder) and is free again once released, or
// once its holder is no longer running under the lease it had; the holder
// itself may take it again (a resumed notification).
//
// Locks whose name starts with ReservedPrefix guard a reserved host
// (the evacuation's "masakari-<host>"): such a lock is also refused when
// the host is no longer reserved, unless the asking notification was its
// last holder, so a reserved host picked from a list read before another
// failed host took it is not handed out twice.
type Locker struct {
	DB             *DB
	ReservedPrefix string
}

var _ engine.Locker = (*Locker)(nil)

const lockUpsert = `INSERT INTO locks (name, holder, owner, released, acquired_at) VALUES (?, ?, ?, 0, ?)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, owner = excluded.owner, released = 0, acquired_at = excluded.acquired_at
	WHERE locks.holder = excluded.holder OR locks.released = 1 OR NOT EXISTS (
	  SELECT 1 FROM notifications n WHERE n.notification_uuid = locks.holder AND n.owner = locks.owner
	    AND n.status = 'running' AND n.deleted = 0 AND n.lease_until IS NOT NULL AND n.lease_until >= ?)
	RETURNING name`

// TryLock takes the named lock for the context's holder, or returns
// engine.ErrLockHeld.
func (l *Locker) TryLock(ctx context.Context, name string) (func(), error) {
	h, ok := ctx.Value(holderKey{}).(holder)
	if !ok {
		return nil, fmt.Errorf("lock %s: no notification holds it (the context lacks db.WithHolder)", name)
	}
	db := l.DB
	now := db.now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if rh, ok := strings.CutPrefix(name, l.ReservedPrefix); ok && l.ReservedPrefix != "" {
			var reserved int
			err := tx.QueryRowContext(ctx, db.d.q(`SELECT reserved FROM hosts WHERE name = ? AND deleted = 0`), rh).Scan(&reserved)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err == nil && reserved == 0 {
				var last string
				err := tx.QueryRowContext(ctx, db.d.q(`SELECT holder FROM locks WHERE name = ?`+db.d.RowLock), name).Scan(&last)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				if last != h.notification {
					return engine.ErrLockHeld
				}
			}
		}
		var got string
		err := tx.QueryRowContext(ctx, db.d.q(lockUpsert), name, h.notification, h.owner, formatTime(now), formatTime(now)).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			return engine.ErrLockHeld
		}
		return err
	})
	if err != nil {
		if errors.Is(err, engine.ErrLockHeld) {
			return nil, err
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() {
		// Unlock must happen even when the task's context ended.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		db.w.ExecContext(ctx, db.d.q(`UPDATE locks SET released = 1 WHERE name = ? AND holder = ? AND owner = ?`), name, h.notification, h.owner)
	}, nil
}

// LockHolder returns the last holder of a lock and whether it still holds
// it (released locks and locks of holders no longer running under their
// lease are free).
func (db *DB) LockHolder(ctx context.Context, name string) (holder string, held bool, err error) {
	err = db.r.QueryRowContext(ctx, db.d.q(`SELECT l.holder, CASE WHEN l.released = 0 AND EXISTS (
	  SELECT 1 FROM notifications n WHERE n.notification_uuid = l.holder AND n.owner = l.owner
	    AND n.status = 'running' AND n.deleted = 0 AND n.lease_until IS NOT NULL AND n.lease_until >= ?) THEN 1 ELSE 0 END
	  FROM locks l WHERE l.name = ?`), formatTime(db.now()), name).Scan(&holder, &held)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return holder, held, err
}

// TryPeriodic elects the daemon that runs a periodic task now: true for
// exactly one caller per period (every), across the daemons sharing the
// database.
func (db *DB) TryPeriodic(ctx context.Context, name, owner string, every time.Duration) (bool, error) {
	now := db.now()
	// A tenth of the period of slack: a daemon whose timer fires a little
	// early is not skipped for a whole period.
	due := now.Add(-every + every/10)
	var got string
	err := db.w.QueryRowContext(ctx, db.d.q(`INSERT INTO periodic_runs (name, owner, ran_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, ran_at = excluded.ran_at
		WHERE periodic_runs.ran_at <= ?
		RETURNING name`), name, owner, formatTime(now), formatTime(due)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("periodic task %s: %w", name, err)
	}
	return true, nil
}
