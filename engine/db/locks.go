package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// ReservedHostClaims is engine.ReservedHostClaimer in the database, shared
// by every daemon using it (Masakari's lock is process-local). A claim is
// held by a notification run by the daemon Owner: it lives as long as that
// notification runs under that daemon's lease, so a daemon that dies gives
// its claims up when its leases expire. It is free again once released, or
// once its holder no longer runs under the lease it had; the holder itself
// may claim the host again (a resumed notification, on any daemon).
//
// A host that is no longer reserved is refused, unless the asking
// notification was its last holder: a reserved host picked from a list read
// before another failed host took it is not handed out twice.
type ReservedHostClaims struct {
	DB    *DB
	Owner string // the daemon the notifications run under (service.Owner)
}

var _ engine.ReservedHostClaimer = (*ReservedHostClaims)(nil)

// reservedHostLock is the row of a reserved host's claim in the locks
// table, named as Masakari's utils.synchronized names the lock.
func reservedHostLock(host string) string { return "masakari-" + host }

// lockUpsert takes over a claim that is free (released, or its holder no
// longer runs under its lease) or the asker's own. It checks again that the
// host is still reserved: on PostgreSQL each statement of the transaction
// sees what was committed before it, so another recovery may have taken the
// host, marked it no longer reserved and released its claim between the
// reserved check and this statement; without the second check the host
// would be handed out twice.
const lockUpsert = `INSERT INTO locks (name, holder, owner, released, acquired_at) VALUES (?, ?, ?, 0, ?)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, owner = excluded.owner, released = 0, acquired_at = excluded.acquired_at
	WHERE (locks.holder = excluded.holder OR locks.released = 1 OR NOT EXISTS (
	  SELECT 1 FROM notifications n WHERE n.notification_uuid = locks.holder AND n.owner = locks.owner
	    AND n.status = 'running' AND n.deleted = 0 AND n.lease_until IS NOT NULL AND n.lease_until >= ?))
	  AND (locks.holder = excluded.holder OR NOT EXISTS (
	  SELECT 1 FROM hosts h WHERE h.name = ? AND h.deleted = 0 AND h.reserved = 0))
	RETURNING name`

// ClaimReservedHost claims host for the notification, or returns
// engine.ErrLockHeld.
func (c *ReservedHostClaims) ClaimReservedHost(ctx context.Context, notificationUUID, host string) (func(), error) {
	if notificationUUID == "" || c.Owner == "" {
		return nil, fmt.Errorf("claim reserved host %s: the claim needs a notification and the daemon it runs under", host)
	}
	db, name := c.DB, reservedHostLock(host)
	now := db.now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var reserved int
		err := tx.QueryRowContext(ctx, db.d.q(`SELECT reserved FROM hosts WHERE name = ? AND deleted = 0`), host).Scan(&reserved)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && reserved == 0 {
			var last string
			err := tx.QueryRowContext(ctx, db.d.q(`SELECT holder FROM locks WHERE name = ?`+db.d.RowLock), name).Scan(&last)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if last != notificationUUID {
				return engine.ErrLockHeld
			}
		}
		var got string
		err = tx.QueryRowContext(ctx, db.d.q(lockUpsert), name, notificationUUID, c.Owner, formatTime(now), formatTime(now), host).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			return engine.ErrLockHeld
		}
		return err
	})
	if err != nil {
		if errors.Is(err, engine.ErrLockHeld) {
			return nil, err
		}
		return nil, fmt.Errorf("claim reserved host %s: %w", host, err)
	}
	return func() {
		// The release must happen even when the task's context ended.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		db.w.ExecContext(ctx, db.d.q(`UPDATE locks SET released = 1 WHERE name = ? AND holder = ? AND owner = ?`), name, notificationUUID, c.Owner)
	}, nil
}

// ReservedHostHolder returns the last notification to claim a reserved host
// and whether it still holds it (released claims and claims of holders no
// longer running under their lease are free).
func (db *DB) ReservedHostHolder(ctx context.Context, host string) (holder string, held bool, err error) {
	err = db.r.QueryRowContext(ctx, db.d.q(`SELECT l.holder, CASE WHEN l.released = 0 AND EXISTS (
	  SELECT 1 FROM notifications n WHERE n.notification_uuid = l.holder AND n.owner = l.owner
	    AND n.status = 'running' AND n.deleted = 0 AND n.lease_until IS NOT NULL AND n.lease_until >= ?) THEN 1 ELSE 0 END
	  FROM locks l WHERE l.name = ?`), formatTime(db.now()), reservedHostLock(host)).Scan(&holder, &held)
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
