package db

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// StorageError is a write the database's storage refused: its disk is full,
// its files cannot be written or it is read-only. Nothing of the write was
// stored; the same write may succeed once the operator has fixed the
// storage.
type StorageError struct {
	// What says what is wrong, for a message to the client.
	What string
	Err  error
}

func (e *StorageError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *StorageError) Unwrap() error { return e.Err }

// SQLite's primary result codes of a failing storage.
const (
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// storageError wraps err as a *StorageError when it is the storage failing,
// and returns it unchanged otherwise.
func storageError(err error) error {
	if err == nil {
		return nil
	}
	var se *StorageError
	if errors.As(err, &se) {
		return err
	}
	what := ""
	var le *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &le):
		switch le.Code() & 0xff { // the primary code of an extended one
		case sqliteFull:
			what = "no space left for the database (its disk is full)"
		case sqliteIOErr, sqliteCantOpen:
			what = "the database's files cannot be written"
		case sqliteReadOnly:
			what = "the database is read-only"
		}
	case errors.As(err, &pe):
		switch {
		case pe.Code == "53100": // disk_full
			what = "no space left for the database (its disk is full)"
		case strings.HasPrefix(pe.Code, "53"): // insufficient resources
			what = "the database server is out of resources"
		case strings.HasPrefix(pe.Code, "58"): // system error (I/O)
			what = "the database's files cannot be written"
		case pe.Code == "25006": // read_only_sql_transaction
			what = "the database is read-only"
		}
	}
	if what == "" {
		return err
	}
	return &StorageError{What: what, Err: err}
}

// writeHealth remembers whether the last write failed on the storage.
type writeHealth struct {
	mu     sync.Mutex
	failed *StorageError
	since  time.Time
}

// note records the outcome of a write and returns err, wrapped as a
// *StorageError when the storage failed.
func (h *writeHealth) note(err error, now time.Time) error {
	err = storageError(err)
	var se *StorageError
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.failed = nil
	case errors.As(err, &se):
		if h.failed == nil {
			h.since = now
		}
		h.failed = se
	}
	return err
}

// WriteFailure is the storage failure of the last write and when writes
// began to fail; nil when the last write succeeded (or failed for another
// reason, such as a conflict). A write that succeeds clears it.
func (db *DB) WriteFailure() (since time.Time, err error) {
	db.writes.mu.Lock()
	defer db.writes.mu.Unlock()
	if db.writes.failed == nil {
		return time.Time{}, nil
	}
	return db.writes.since, db.writes.failed
}
