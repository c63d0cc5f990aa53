package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// SegmentHostNotifications returns the COMPUTE_HOST notifications of the
// segment of the host hostUUID received (created) within window before
// now, oldest first, and how many hosts that segment has: what the storm
// guard counts. Which of them report a failure is the caller's decision.
func (db *DB) SegmentHostNotifications(ctx context.Context, hostUUID string, window time.Duration) ([]Notification, int, error) {
	var segment string
	var hosts int
	err := db.r.QueryRowContext(ctx, db.d.q(`SELECT h.failover_segment_id, (SELECT COUNT(*) FROM hosts o WHERE o.failover_segment_id = h.failover_segment_id AND o.deleted = 0)
		FROM hosts h WHERE h.uuid = ? AND h.deleted = 0`), hostUUID).Scan(&segment, &hosts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	since := formatTime(db.now().Add(-window))
	notes, err := queryAll(ctx, db, `SELECT `+notificationCols+` FROM notifications n JOIN hosts h ON h.uuid = n.source_host_uuid
		WHERE h.failover_segment_id = ? AND n.type = 'COMPUTE_HOST' AND n.deleted = 0 AND n.created_at >= ? ORDER BY n.id`,
		[]any{segment, since}, scanNotification)
	return notes, hosts, err
}

// ReleaseHeld makes a notification the storm guard held new again, marked
// released so that the guard lets it recover, with message; false when it
// is not held.
func (db *DB) ReleaseHeld(ctx context.Context, id, message string) (bool, error) {
	res, err := db.w.ExecContext(ctx, db.d.q(`UPDATE notifications SET status = 'new', released = 1, message = ?, updated_at = ?
		WHERE notification_uuid = ? AND status = 'held' AND deleted = 0`), message, db.stamp(), id)
	if err != nil {
		return false, err
	}
	c, _ := res.RowsAffected()
	return c == 1, nil
}
