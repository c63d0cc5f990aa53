package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	_ "modernc.org/sqlite" // the pure Go SQLite driver, registered as "sqlite"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// SQLite is the dialect of the built-in SQLite store.
var SQLite = Dialect{Name: "sqlite", AutoID: "INTEGER PRIMARY KEY AUTOINCREMENT", SingleNode: true}

// SQLitePath returns the file of a connection URL in SQLAlchemy's form:
// sqlite:////absolute/path.db or sqlite:///relative/path.db.
func SQLitePath(connection string) (string, error) {
	const prefix = "sqlite:///"
	if !strings.HasPrefix(connection, prefix) {
		return "", fmt.Errorf("connection %q: want sqlite:////absolute/path.db or sqlite:///relative/path.db", connection)
	}
	p := strings.TrimPrefix(connection, prefix)
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" || strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("connection %q: no file path", connection)
	}
	return p, nil
}

// OpenSQLite opens (creating it if needed) the SQLite database at path, in
// WAL mode with a busy timeout, one writer connection and a small pool of
// readers, takes the single-daemon lock and applies the migrations.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("database directory: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("database lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("database %s is in use by another kaifuku (SQLite serves one daemon; use PostgreSQL for several): %w", path, err)
	}
	// SQLite takes an empty file for a new database. After a crash or a
	// restore gone wrong that hides lost history behind what looks like a
	// fresh install, so an empty file is refused; a missing one is created.
	if st, err := os.Stat(path); err == nil && st.Size() == 0 {
		lock.Close()
		return nil, fmt.Errorf("database %s is an empty file: kaifuku will not take it for a new database (its history would be lost unnoticed); restore it from a backup, or delete it to start with an empty database", path)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	pragmas := "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", base+pragmas+"&_txlock=immediate")
	if err != nil {
		lock.Close()
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		lock.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := migrate(ctx, w, SQLite); err != nil {
		w.Close()
		lock.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", base+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		lock.Close()
		return nil, err
	}
	n := runtime.GOMAXPROCS(0)
	if n < 2 {
		n = 2
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	d := &DB{w: w, r: r, d: SQLite, closing: make(chan struct{}), Clock: clock.Real{}}
	d.closers = append(d.closers, r.Close, w.Close, lock.Close)
	if err := d.prepareHot(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}
