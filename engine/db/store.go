package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// DB is a kaifuku database: a writer pool (one connection with SQLite) and a
// reader pool. Its methods are safe for concurrent use.
type DB struct {
	w, r    *sql.DB
	d       Dialect
	closers []func() error

	stmts sync.Map // query -> *sql.Stmt

	closing   chan struct{}
	closeOnce sync.Once
	// writer commits the writes of runs in batches (writer.go); writerDone
	// is closed when its loop has ended.
	writer     writer
	writerDone chan struct{}
	// Clock gives the time of leases, periodic elections, locks and
	// created_at/updated_at stamps: the wall clock from Open, replaced (before
	// the database is used) by the clock the service runs on, a clock.Fake in
	// tests.
	Clock clock.Clock
	// writes is the outcome of the last write transaction (for /healthz).
	writes writeHealth
}

// Open opens a database from a connection URL (sqlite:///path or
// postgresql://user@host/db).
func Open(ctx context.Context, connection string) (*DB, error) {
	if strings.HasPrefix(connection, "sqlite://") {
		p, err := SQLitePath(connection)
		if err != nil {
			return nil, err
		}
		return OpenSQLite(ctx, p)
	}
	if isPostgres(connection) {
		return OpenPostgres(ctx, connection)
	}
	scheme, _, _ := strings.Cut(connection, "://")
	return nil, fmt.Errorf("connection %q: unsupported database %q (kaifuku supports sqlite:///path and postgresql://user@host/db)", redact(connection), scheme)
}

// Dialect returns the database's dialect.
func (db *DB) Dialect() Dialect { return db.d }

// Close closes the pools and releases the database lock.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closing) })
	db.writer.mu.Lock()
	writing := db.writer.running
	db.writer.mu.Unlock()
	if writing {
		<-db.writerDone
	}
	var errs []error
	db.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	for _, c := range db.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// hotQueries are prepared once at open: SQLite parses a statement on every
// unprepared call. They are the claims, the intake of notifications and the
// writes of a run's progress.
func (db *DB) hotQueries() []string {
	qs := []string{claimResume, claimNew, claimTake, claimRead, finishQuery,
		hostByNameQuery, dupQuery, insertNotificationQuery,
		ownsQuery + db.d.RowLock, ensureFlowQuery, saveTaskQuery, saveStoreQuery,
		recordLockQuery, forgetLockQuery, updateVMoveQuery}
	return append(qs, addVMovesQueries...)
}

var hotReadQueries = map[string]bool{hostByUUIDQuery: true}

// prepareHot prepares the hot statements (before any transaction holds the
// single writer connection).
func (db *DB) prepareHot() error {
	for _, q := range db.hotQueries() {
		st, err := db.w.Prepare(db.d.q(q))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		db.stmts.Store(q, st)
	}
	for q := range hotReadQueries {
		st, err := db.r.Prepare(db.d.q(q))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		db.stmts.Store("r:"+q, st)
	}
	return nil
}

// stmt runs a hot query prepared at open, bound to tx when tx is set; other
// queries are prepared for the call.
type stmtRunner struct {
	st    *sql.Stmt
	close bool
	err   error
}

func (s stmtRunner) QueryRowContext(ctx context.Context, args ...any) scanner {
	if s.err != nil {
		return errRow{s.err}
	}
	row := s.st.QueryRowContext(ctx, args...)
	if s.close {
		return &closingRow{row: row, st: s.st}
	}
	return row
}

func (s stmtRunner) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.close {
		defer s.st.Close()
	}
	return s.st.ExecContext(ctx, args...)
}

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// closingRow closes its one-off statement once the row is scanned.
type closingRow struct {
	row *sql.Row
	st  *sql.Stmt
}

func (c *closingRow) Scan(dst ...any) error {
	err := c.row.Scan(dst...)
	c.st.Close()
	return err
}

func (db *DB) prepared(tx *sql.Tx, pool *sql.DB, query string) stmtRunner {
	key := query
	if pool == db.r {
		key = "r:" + query
	}
	if v, ok := db.stmts.Load(key); ok {
		st := v.(*sql.Stmt)
		if tx != nil {
			return stmtRunner{st: tx.Stmt(st)}
		}
		return stmtRunner{st: st}
	}
	var st *sql.Stmt
	var err error
	if tx != nil {
		st, err = tx.Prepare(db.d.q(query))
	} else {
		st, err = pool.Prepare(db.d.q(query))
	}
	return stmtRunner{st: st, close: true, err: err}
}

func (db *DB) now() time.Time { return db.Clock.Now().UTC() }

// stamp is a created_at/updated_at value: whole seconds, as Masakari stores them.
func (db *DB) stamp() string { return formatTime(db.now().Truncate(time.Second)) }

// tx runs fn in a write transaction. A failure of the storage (disk full,
// I/O error) is a *StorageError, and is remembered until a later write
// succeeds (WriteFailure).
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.writes.note(fmt.Errorf("begin transaction: %w", err), db.now())
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return db.writes.note(err, db.now())
	}
	if err := tx.Commit(); err != nil {
		return db.writes.note(fmt.Errorf("commit: %w", err), db.now())
	}
	return db.writes.note(nil, db.now())
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ---- segments

const segmentCols = `s.id, s.uuid, s.name, s.service_type, s.enabled, s.description, s.recovery_method, s.created_at, s.updated_at`

// scanner is a row to read: *sql.Row, *sql.Rows or an error standing in for one.
type scanner interface{ Scan(...any) error }

// queryAll runs a query and reads every row with scan. An empty result is an
// empty slice, which the API lists as [] rather than null.
func queryAll[T any](ctx context.Context, db *DB, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.r.QueryContext(ctx, db.d.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanSegment(sc scanner, extra ...any) (Segment, error) {
	var s Segment
	var enabled int
	var desc, updated sql.NullString
	var created string
	dst := append([]any{&s.ID, &s.UUID, &s.Name, &s.ServiceType, &enabled, &desc, &s.RecoveryMethod, &created, &updated}, extra...)
	if err := sc.Scan(dst...); err != nil {
		return s, err
	}
	s.Enabled = enabled != 0
	if desc.Valid {
		d := desc.String
		s.Description = &d
	}
	s.CreatedAt, _ = parseTime(created)
	s.UpdatedAt = nullTime(updated)
	return s, nil
}

func nullTime(ns sql.NullString) *time.Time {
	if !ns.Valid {
		return nil
	}
	t, err := parseTime(ns.String)
	if err != nil {
		return nil
	}
	return &t
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateSegment stores a new segment (409 on a name in use).
func (db *DB) CreateSegment(ctx context.Context, s Segment) (Segment, error) {
	s.UUID = uuid.NewString()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.segmentNameFree(ctx, tx, s.Name, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.d.q(`INSERT INTO failover_segments (uuid, name, service_type, enabled, description, recovery_method, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			s.UUID, s.Name, s.ServiceType, b2i(s.Enabled), s.Description, s.RecoveryMethod, db.stamp())
		return err
	})
	if err != nil {
		return Segment{}, err
	}
	return db.Segment(ctx, s.UUID)
}

func (db *DB) segmentNameFree(ctx context.Context, q querier, name, except string) error {
	var n int
	if err := q.QueryRowContext(ctx, db.d.q(`SELECT COUNT(*) FROM failover_segments WHERE name = ? AND deleted = 0 AND uuid <> ?`), name, except).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return ErrSegmentNameExists
	}
	return nil
}

// Segment returns a segment by uuid.
func (db *DB) Segment(ctx context.Context, id string) (Segment, error) {
	return db.segment(ctx, db.r, id)
}

func (db *DB) segment(ctx context.Context, q querier, id string) (Segment, error) {
	s, err := scanSegment(q.QueryRowContext(ctx, db.d.q(`SELECT `+segmentCols+` FROM failover_segments s WHERE s.uuid = ? AND s.deleted = 0`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	return s, err
}

var segmentSortKeys = map[string]string{"id": "s.id", "uuid": "s.uuid", "name": "s.name", "service_type": "s.service_type",
	"enabled": "s.enabled", "description": "s.description", "recovery_method": "s.recovery_method",
	"created_at": "s.created_at", "updated_at": "s.updated_at", "deleted_at": "s.deleted_at", "deleted": "s.deleted"}

// Segments lists segments.
func (db *DB) Segments(ctx context.Context, f SegmentFilter, p Page) ([]Segment, error) {
	var where []string
	var args []any
	if f.RecoveryMethod != nil {
		where, args = append(where, "s.recovery_method = ?"), append(args, *f.RecoveryMethod)
	}
	if f.ServiceType != nil {
		where, args = append(where, "s.service_type = ?"), append(args, *f.ServiceType)
	}
	if f.Enabled != nil {
		where, args = append(where, "s.enabled = ?"), append(args, b2i(*f.Enabled))
	}
	q, qargs, err := db.paged(ctx, "failover_segments s", "s", segmentSortKeys, where, args, p)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, `SELECT `+segmentCols+` FROM `+q, qargs, func(sc scanner) (Segment, error) { return scanSegment(sc) })
}

// paged builds "table WHERE ... ORDER BY ... LIMIT n" for a list with
// Masakari's paging: sort keys (default created_at desc, then created_at and
// id appended), and a marker (the id of the last row seen).
func (db *DB) paged(ctx context.Context, table, alias string, keys map[string]string, where []string, args []any, p Page) (string, []any, error) {
	sorts := slices.Clone(p.Sort)
	if len(sorts) == 0 {
		sorts = []Sort{{Key: "created_at", Desc: true}}
	}
	dir := sorts[0].Desc
	for _, k := range []string{"created_at", "id"} {
		if !slices.ContainsFunc(sorts, func(s Sort) bool { return s.Key == k }) {
			sorts = append(sorts, Sort{Key: k, Desc: dir})
		}
	}
	var order []string
	for _, s := range sorts {
		col, ok := keys[s.Key]
		if !ok {
			return "", nil, ErrInvalidSortKey
		}
		if s.Desc {
			order = append(order, col+" DESC")
		} else {
			order = append(order, col+" ASC")
		}
	}
	where = append([]string{alias + ".deleted = 0"}, where...)
	if p.Marker != 0 {
		// The rows after the marker row in this order: for keys k1..kn,
		// (k1 after m1) OR (k1 = m1 AND k2 after m2) OR ...
		cols := make([]string, len(sorts))
		for i, s := range sorts {
			cols[i] = keys[s.Key]
		}
		vals := make([]any, len(sorts))
		ptrs := make([]any, len(sorts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		err := db.r.QueryRowContext(ctx, db.d.q(`SELECT `+strings.Join(cols, ", ")+` FROM `+table+` WHERE `+alias+`.id = ? AND `+alias+`.deleted = 0`), p.Marker).Scan(ptrs...)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil, ErrMarkerNotFound
		}
		if err != nil {
			return "", nil, err
		}
		var ors []string
		for i := range sorts {
			var ands []string
			for j := 0; j < i; j++ {
				ands = append(ands, nullSafeEq(cols[j], vals[j], &args))
			}
			op := ">"
			if sorts[i].Desc {
				op = "<"
			}
			if vals[i] == nil {
				if !sorts[i].Desc {
					// NULL sorts first ascending: everything non-null is after it.
					ands = append(ands, cols[i]+" IS NOT NULL")
				} else {
					continue
				}
			} else {
				ands = append(ands, cols[i]+" "+op+" ?")
				args = append(args, vals[i])
				if sorts[i].Desc {
					ands[len(ands)-1] = "(" + ands[len(ands)-1] + " OR " + cols[i] + " IS NULL)"
				}
			}
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		if len(ors) > 0 {
			where = append(where, "("+strings.Join(ors, " OR ")+")")
		} else {
			where = append(where, "1 = 0")
		}
	}
	q := table + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + strings.Join(order, ", ")
	if p.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", p.Limit)
	}
	return q, args, nil
}

func nullSafeEq(col string, v any, args *[]any) string {
	if v == nil {
		return col + " IS NULL"
	}
	*args = append(*args, v)
	return col + " = ?"
}

// inUse reports whether a segment (or one host of it) has a notification
// in new, running, error or held.
func (db *DB) inUse(ctx context.Context, q querier, segmentUUID, hostUUID string) (bool, error) {
	query := `SELECT COUNT(*) FROM notifications n JOIN hosts h ON h.uuid = n.source_host_uuid WHERE h.failover_segment_id = ? AND n.deleted = 0 AND n.status IN (?` + repeat(", ?", len(unfinished)-1) + `)`
	args := []any{segmentUUID}
	for _, st := range unfinished {
		args = append(args, st)
	}
	if hostUUID != "" {
		query += ` AND h.uuid = ?`
		args = append(args, hostUUID)
	}
	var n int
	if err := q.QueryRowContext(ctx, db.d.q(query), args...).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// UpdateSegment changes a segment (409 when in use or the name is taken).
func (db *DB) UpdateSegment(ctx context.Context, id string, p SegmentPatch) (Segment, error) {
	var a assignments
	setIf(&a, "name", p.Name)
	setIf(&a, "service_type", p.ServiceType)
	setIf(&a, "enabled", p.Enabled)
	setIf(&a, "description", p.Description)
	setIf(&a, "recovery_method", p.RecoveryMethod)
	err := db.patch(ctx, "failover_segments", id, a, func(tx *sql.Tx) error {
		if _, err := db.segment(ctx, tx, id); err != nil {
			return err
		}
		if err := db.refuseInUse(ctx, tx, id, ""); err != nil {
			return err
		}
		if p.Name == nil {
			return nil
		}
		return db.segmentNameFree(ctx, tx, *p.Name, id)
	})
	if err != nil {
		return Segment{}, err
	}
	return db.Segment(ctx, id)
}

// assignments are the "column = ?" terms of an UPDATE and their values, in
// the order they were set.
type assignments struct {
	cols []string
	args []any
}

// set adds column col = v; a bool is stored as 0 or 1.
func (a *assignments) set(col string, v any) {
	if b, ok := v.(bool); ok {
		v = b2i(b)
	}
	a.cols, a.args = append(a.cols, col+" = ?"), append(a.args, v)
}

// setIf adds column col = *v when a patch sets v.
func setIf[T any](a *assignments, col string, v *T) {
	if v != nil {
		a.set(col, *v)
	}
}

// refuseInUse returns ErrInUse when a segment (or one host of it) has a
// notification in new, running or error.
func (db *DB) refuseInUse(ctx context.Context, q querier, segmentUUID, hostUUID string) error {
	busy, err := db.inUse(ctx, q, segmentUUID, hostUUID)
	if err != nil {
		return err
	}
	if busy {
		return ErrInUse
	}
	return nil
}

// patch changes the live row uuid of table by a, stamping updated_at, in one
// transaction after check passes.
func (db *DB) patch(ctx context.Context, table, uuid string, a assignments, check func(tx *sql.Tx) error) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		a.set("updated_at", db.stamp())
		_, err := tx.ExecContext(ctx, db.d.q(`UPDATE `+table+` SET `+strings.Join(a.cols, ", ")+` WHERE uuid = ? AND deleted = 0`), append(a.args, uuid)...)
		return err
	})
}

// DeleteSegment soft-deletes a segment and its hosts (409 when in use).
func (db *DB) DeleteSegment(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		s, err := db.segment(ctx, tx, id)
		if err != nil {
			return err
		}
		if busy, err := db.inUse(ctx, tx, id, ""); err != nil {
			return err
		} else if busy {
			return ErrInUse
		}
		now := db.stamp()
		if _, err := tx.ExecContext(ctx, db.d.q(`UPDATE hosts SET deleted = id, deleted_at = ? WHERE failover_segment_id = ? AND deleted = 0`), now, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.d.q(`UPDATE failover_segments SET deleted = id, deleted_at = ? WHERE id = ?`), now, s.ID)
		return err
	})
}

// ---- hosts

const hostCols = `h.id, h.uuid, h.name, h.failover_segment_id, h.type, h.reserved, h.control_attributes, h.on_maintenance, h.created_at, h.updated_at`

func scanHost(sc scanner) (Host, error) {
	var h Host
	var reserved, maint int
	var created string
	var updated sql.NullString
	s, err := scanSegment(sc, &h.ID, &h.UUID, &h.Name, &h.SegmentUUID, &h.Type, &reserved, &h.ControlAttributes, &maint, &created, &updated)
	if err != nil {
		return h, err
	}
	h.Segment = s
	h.Reserved, h.OnMaintenance = reserved != 0, maint != 0
	h.CreatedAt, _ = parseTime(created)
	h.UpdatedAt = nullTime(updated)
	return h, nil
}

const hostFrom = `hosts h JOIN failover_segments s ON s.uuid = h.failover_segment_id`

func (db *DB) hostNameFree(ctx context.Context, q querier, name, except string) error {
	var n int
	if err := q.QueryRowContext(ctx, db.d.q(`SELECT COUNT(*) FROM hosts WHERE name = ? AND deleted = 0 AND uuid <> ?`), name, except).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return ErrHostNameExists
	}
	return nil
}

// CreateHost adds a host to a segment (host names are unique across segments).
func (db *DB) CreateHost(ctx context.Context, segmentUUID string, h Host) (Host, error) {
	h.UUID = uuid.NewString()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := db.segment(ctx, tx, segmentUUID); err != nil {
			return err
		}
		if err := db.hostNameFree(ctx, tx, h.Name, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.d.q(`INSERT INTO hosts (uuid, name, failover_segment_id, type, reserved, control_attributes, on_maintenance, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			h.UUID, h.Name, segmentUUID, h.Type, b2i(h.Reserved), h.ControlAttributes, b2i(h.OnMaintenance), db.stamp())
		return err
	})
	if err != nil {
		return Host{}, err
	}
	return db.Host(ctx, segmentUUID, h.UUID)
}

// Host returns a host of a segment: ErrNotFound for an unknown segment or
// host, ErrHostOtherSegment when the host belongs to another segment.
func (db *DB) Host(ctx context.Context, segmentUUID, hostUUID string) (Host, error) {
	return db.host(ctx, db.r, segmentUUID, hostUUID)
}

func (db *DB) host(ctx context.Context, q querier, segmentUUID, hostUUID string) (Host, error) {
	h, err := scanHost(q.QueryRowContext(ctx, db.d.q(`SELECT `+segmentCols+`, `+hostCols+` FROM `+hostFrom+` WHERE h.uuid = ? AND h.deleted = 0 AND s.deleted = 0`), hostUUID))
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrNotFound
	}
	if err != nil {
		return h, err
	}
	if h.SegmentUUID != segmentUUID {
		return h, ErrHostOtherSegment
	}
	return h, nil
}

// HostByName returns a host by name, in whichever segment it is.
func (db *DB) HostByName(ctx context.Context, name string) (Host, error) {
	return db.hostByName(ctx, db.r, name)
}

var hostByUUIDQuery = `SELECT ` + segmentCols + `, ` + hostCols + ` FROM ` + hostFrom + ` WHERE h.uuid = ? AND h.deleted = 0`

var hostByNameQuery = `SELECT ` + segmentCols + `, ` + hostCols + ` FROM ` + hostFrom + ` WHERE h.name = ? AND h.deleted = 0 AND s.deleted = 0`

func (db *DB) hostByName(ctx context.Context, q querier, name string) (Host, error) {
	h, err := scanHost(q.QueryRowContext(ctx, db.d.q(hostByNameQuery), name))
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrNotFound
	}
	return h, err
}

// HostByUUID returns a host by uuid, in whichever segment it is.
func (db *DB) HostByUUID(ctx context.Context, id string) (Host, error) {
	h, err := scanHost(db.prepared(nil, db.r, hostByUUIDQuery).QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrNotFound
	}
	return h, err
}

var hostSortKeys = map[string]string{"id": "h.id", "uuid": "h.uuid", "name": "h.name", "type": "h.type",
	"reserved": "h.reserved", "control_attributes": "h.control_attributes", "on_maintenance": "h.on_maintenance",
	"failover_segment_id": "h.failover_segment_id", "created_at": "h.created_at", "updated_at": "h.updated_at",
	"deleted_at": "h.deleted_at", "deleted": "h.deleted"}

// Hosts lists the hosts of a segment.
func (db *DB) Hosts(ctx context.Context, segmentUUID string, f HostFilter, p Page) ([]Host, error) {
	if _, err := db.Segment(ctx, segmentUUID); err != nil {
		return nil, err
	}
	where := []string{"h.failover_segment_id = ?"}
	args := []any{segmentUUID}
	if f.Type != nil {
		where, args = append(where, "h.type = ?"), append(args, *f.Type)
	}
	if f.OnMaintenance != nil {
		where, args = append(where, "h.on_maintenance = ?"), append(args, b2i(*f.OnMaintenance))
	}
	if f.Reserved != nil {
		where, args = append(where, "h.reserved = ?"), append(args, b2i(*f.Reserved))
	}
	q, qargs, err := db.paged(ctx, hostFrom, "h", hostSortKeys, where, args, p)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, `SELECT `+segmentCols+`, `+hostCols+` FROM `+q, qargs, scanHost)
}

// UpdateHost changes a host (409 when in use or the name is taken).
func (db *DB) UpdateHost(ctx context.Context, segmentUUID, hostUUID string, p HostPatch) (Host, error) {
	var a assignments
	setIf(&a, "name", p.Name)
	setIf(&a, "type", p.Type)
	setIf(&a, "control_attributes", p.ControlAttributes)
	setIf(&a, "reserved", p.Reserved)
	setIf(&a, "on_maintenance", p.OnMaintenance)
	err := db.patch(ctx, "hosts", hostUUID, a, func(tx *sql.Tx) error {
		if _, err := db.host(ctx, tx, segmentUUID, hostUUID); err != nil {
			return err
		}
		if err := db.refuseInUse(ctx, tx, segmentUUID, hostUUID); err != nil {
			return err
		}
		if p.Name == nil {
			return nil
		}
		return db.hostNameFree(ctx, tx, *p.Name, hostUUID)
	})
	if err != nil {
		return Host{}, err
	}
	return db.Host(ctx, segmentUUID, hostUUID)
}

// DeleteHost soft-deletes a host (409 when in use).
func (db *DB) DeleteHost(ctx context.Context, segmentUUID, hostUUID string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		h, err := db.host(ctx, tx, segmentUUID, hostUUID)
		if err != nil {
			return err
		}
		if busy, err := db.inUse(ctx, tx, segmentUUID, hostUUID); err != nil {
			return err
		} else if busy {
			return ErrInUse
		}
		_, err = tx.ExecContext(ctx, db.d.q(`UPDATE hosts SET deleted = id, deleted_at = ? WHERE id = ?`), db.stamp(), h.ID)
		return err
	})
}

// SetMaintenance sets a host's on_maintenance flag by name.
func (db *DB) SetMaintenance(ctx context.Context, name string, on bool) error {
	return db.setHostFlag(ctx, name, "on_maintenance", on)
}

// SetReserved sets a host's reserved flag by name.
func (db *DB) SetReserved(ctx context.Context, name string, reserved bool) error {
	return db.setHostFlag(ctx, name, "reserved", reserved)
}

func (db *DB) setHostFlag(ctx context.Context, name, col string, v bool) error {
	res, err := db.w.ExecContext(ctx, db.d.q(`UPDATE hosts SET `+col+` = ?, updated_at = ? WHERE name = ? AND deleted = 0`), b2i(v), db.stamp(), name)
	if err != nil {
		return fmt.Errorf("update host %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("host %s: %w", name, ErrNotFound)
	}
	return nil
}

// ReservedHosts lists the names of the reserved hosts, not on maintenance,
// of the segment of the named host, in Masakari's order (created_at desc,
// id desc).
func (db *DB) ReservedHosts(ctx context.Context, name string) ([]string, error) {
	return queryAll(ctx, db, `SELECT r.name FROM hosts h JOIN hosts r ON r.failover_segment_id = h.failover_segment_id
		WHERE h.name = ? AND h.deleted = 0 AND r.deleted = 0 AND r.reserved = 1 AND r.on_maintenance = 0
		ORDER BY r.created_at DESC, r.id DESC`, []any{name}, func(sc scanner) (n string, err error) {
		err = sc.Scan(&n)
		return n, err
	})
}

// ---- notifications

const notificationCols = `n.id, n.notification_uuid, n.generated_time, n.source_host_uuid, n.failover_segment_uuid, n.type, n.payload, n.status, n.message, n.retry, n.released, n.created_at, n.updated_at`

func scanNotification(sc scanner) (Notification, error) {
	var n Notification
	var gen, created, payload string
	var seg, msg, updated sql.NullString
	var retry, released int
	if err := sc.Scan(&n.ID, &n.UUID, &gen, &n.SourceHostUUID, &seg, &n.Type, &payload, &n.Status, &msg, &retry, &released, &created, &updated); err != nil {
		return n, err
	}
	n.GeneratedTime, _ = parseTime(gen)
	n.SegmentUUID = seg.String
	n.Payload = json.RawMessage(payload)
	if msg.Valid {
		m := msg.String
		n.Message = &m
	}
	n.Retry = retry != 0
	n.Released = released != 0
	n.CreatedAt, _ = parseTime(created)
	n.UpdatedAt = nullTime(updated)
	return n, nil
}

// CreateNotification stores a new notification in status new, with
// Masakari's checks made in the same transaction: the host exists
// (ErrNotFound), is not on maintenance (ErrOnMaintenance), and no
// notification of the same type and host with an equal payload was
// generated within window before it (ErrDuplicate). The notification is
// committed when this returns. Concurrent calls are committed together (one
// transaction, one sync to disk, for every call waiting).
func (db *DB) CreateNotification(ctx context.Context, nn NewNotification, window time.Duration) (Notification, error) {
	var payload map[string]any
	if err := json.Unmarshal(nn.Payload, &payload); err != nil {
		return Notification{}, fmt.Errorf("payload: %w", err)
	}
	key, err := json.Marshal(payload) // sorted keys
	if err != nil {
		return Notification{}, fmt.Errorf("payload: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Notification{}, err
	}
	var n Notification
	// Once queued, the outcome is awaited (the writer bounds a batch's
	// time): a create that may have been committed is never answered as
	// failed.
	err = db.await(&write{run: func(b *batch) error {
		var err error
		n, err = db.insertNotification(b, nn, window, string(key))
		if isCheckError(err) {
			return refused{err}
		}
		return err
	}})
	if err != nil {
		return Notification{}, err
	}
	return n, nil
}

func isCheckError(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrOnMaintenance) || errors.Is(err, ErrDuplicate)
}

const (
	dupQuery                = `SELECT COUNT(*) FROM notifications WHERE source_host_uuid = ? AND type = ? AND payload_key = ? AND generated_time >= ? AND deleted = 0`
	insertNotificationQuery = `INSERT INTO notifications (notification_uuid, generated_time, source_host_uuid, failover_segment_uuid, type, payload, payload_key, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?) RETURNING id`
)

func (db *DB) insertNotification(b *batch, nn NewNotification, window time.Duration, key string) (Notification, error) {
	ctx := b.ctx
	h, err := scanHost(b.stmt(hostByNameQuery).QueryRowContext(ctx, nn.Hostname))
	if errors.Is(err, sql.ErrNoRows) {
		return Notification{}, ErrNotFound
	}
	if err != nil {
		return Notification{}, err
	}
	if h.OnMaintenance {
		return Notification{}, ErrOnMaintenance
	}
	var dup int
	err = b.stmt(dupQuery).QueryRowContext(ctx,
		h.UUID, nn.Type, key, formatTime(nn.GeneratedTime.Add(-window))).Scan(&dup)
	if err != nil {
		return Notification{}, err
	}
	if dup > 0 {
		return Notification{}, ErrDuplicate
	}
	n := Notification{UUID: uuid.NewString(), GeneratedTime: nn.GeneratedTime.UTC().Truncate(time.Microsecond), SourceHostUUID: h.UUID,
		SegmentUUID: h.SegmentUUID, Type: nn.Type, Payload: nn.Payload, Status: "new"}
	created := db.stamp()
	n.CreatedAt, _ = parseTime(created)
	err = b.stmt(insertNotificationQuery).QueryRowContext(ctx,
		n.UUID, formatTime(n.GeneratedTime), h.UUID, h.SegmentUUID, n.Type, string(nn.Payload), key, created).Scan(&n.ID)
	return n, err
}

// Notification returns a notification by uuid.
func (db *DB) Notification(ctx context.Context, id string) (Notification, error) {
	return db.notification(ctx, db.r, id)
}

func (db *DB) notification(ctx context.Context, q querier, id string) (Notification, error) {
	n, err := scanNotification(q.QueryRowContext(ctx, db.d.q(`SELECT `+notificationCols+` FROM notifications n WHERE n.notification_uuid = ? AND n.deleted = 0`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNotFound
	}
	return n, err
}

var notificationSortKeys = map[string]string{"id": "n.id", "notification_uuid": "n.notification_uuid",
	"generated_time": "n.generated_time", "source_host_uuid": "n.source_host_uuid", "type": "n.type",
	"payload": "n.payload", "status": "n.status", "created_at": "n.created_at", "updated_at": "n.updated_at",
	"deleted_at": "n.deleted_at", "deleted": "n.deleted", "failover_segment_uuid": "n.failover_segment_uuid", "message": "n.message"}

// Notifications lists notifications.
func (db *DB) Notifications(ctx context.Context, f NotificationFilter, p Page) ([]Notification, error) {
	var where []string
	var args []any
	if f.Status != nil {
		where, args = append(where, "n.status = ?"), append(args, *f.Status)
	}
	if f.SourceHostUUID != nil {
		where, args = append(where, "n.source_host_uuid = ?"), append(args, *f.SourceHostUUID)
	}
	if f.Type != nil {
		where, args = append(where, "n.type = ?"), append(args, *f.Type)
	}
	if f.GeneratedSince != nil {
		where, args = append(where, "n.generated_time >= ?"), append(args, formatTime(*f.GeneratedSince))
	}
	q, qargs, err := db.paged(ctx, "notifications n", "n", notificationSortKeys, where, args, p)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, `SELECT `+notificationCols+` FROM `+q, qargs, scanNotification)
}

// CountNotifications counts the stored notifications.
func (db *DB) CountNotifications(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE deleted = 0`).Scan(&n)
	return n, err
}

// NotificationCount is how many stored notifications have one type and
// status.
type NotificationCount struct {
	Type, Status string
	N            int
}

// NotificationCounts counts the stored notifications by type and status, in
// that order; pairs without a notification are absent.
func (db *DB) NotificationCounts(ctx context.Context) ([]NotificationCount, error) {
	return queryAll(ctx, db, `SELECT type, status, COUNT(*) FROM notifications WHERE deleted = 0 GROUP BY type, status ORDER BY type, status`, nil,
		func(s scanner) (NotificationCount, error) {
			var c NotificationCount
			err := s.Scan(&c.Type, &c.Status, &c.N)
			return c, err
		})
}
