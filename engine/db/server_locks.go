package db

import (
	"context"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// ServerLocks is engine.ServerLocker in the database: the records outlive
// the daemon that wrote them, so that whichever daemon resumes the
// notification releases the locks the dead one took.
type ServerLocks struct{ DB *DB }

var _ engine.ServerLocker = ServerLocks{}

// The writes of the records (prepared at open).
const (
	recordLockQuery = `INSERT INTO server_locks (notification_uuid, server_id, locked_at) VALUES (?, ?, ?)
		ON CONFLICT (notification_uuid, server_id) DO NOTHING`
	forgetLockQuery = `DELETE FROM server_locks WHERE notification_uuid = ? AND server_id = ?`
)

// RecordServerLock records that the notification's recovery locks the server.
func (s ServerLocks) RecordServerLock(ctx context.Context, notificationUUID, serverID string) error {
	db := s.DB
	err := db.commit(ctx, &write{run: func(b *batch) error {
		_, err := b.stmt(recordLockQuery).ExecContext(b.ctx, notificationUUID, serverID, formatTime(db.now()))
		return err
	}})
	if err != nil {
		return fmt.Errorf("record the lock of server %s: %w", serverID, err)
	}
	return nil
}

// ForgetServerLock drops the record of the server's lock. The write rides
// (lazy) with the next commit, the next server's lock record or the task's
// end, which the notification's end comes after, or goes alone once the
// hold has passed.
func (s ServerLocks) ForgetServerLock(notificationUUID, serverID string, failed func(error)) {
	s.DB.behind(&write{lazy: true, failed: failed, run: func(b *batch) error {
		if _, err := b.stmt(forgetLockQuery).ExecContext(b.ctx, notificationUUID, serverID); err != nil {
			return fmt.Errorf("forget the lock of server %s: %w", serverID, err)
		}
		return nil
	}})
}

// ServerLocks lists the servers whose lock is recorded for the notification.
func (s ServerLocks) ServerLocks(ctx context.Context, notificationUUID string) ([]string, error) {
	db := s.DB
	rows, err := db.r.QueryContext(ctx, db.d.q(`SELECT server_id FROM server_locks WHERE notification_uuid = ? ORDER BY server_id`), notificationUUID)
	if err != nil {
		return nil, fmt.Errorf("read the server locks of notification %s: %w", notificationUUID, err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read the server locks of notification %s: %w", notificationUUID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the server locks of notification %s: %w", notificationUUID, err)
	}
	return ids, nil
}
