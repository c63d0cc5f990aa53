package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is what differs between databases. Queries are written with ?
// placeholders and portable SQL (TEXT timestamps, INTEGER booleans,
// INSERT ... RETURNING, ON CONFLICT ... DO UPDATE/NOTHING); Rebind adapts
// the placeholders.
//
// PostgreSQL (postgres.go) is the second dialect: its writer pool is not
// limited to one connection, so claims lock rows (FOR UPDATE SKIP LOCKED),
// the claims of one host are serialised across daemons with a
// transaction-scoped advisory lock, and leases expire instead of being taken
// over at start.
type Dialect struct {
	Name string
	// AutoID is the column definition of an auto-incrementing integer key.
	AutoID string
	// Rebind turns ? placeholders into the database's own (nil: keep).
	Rebind func(string) string
	// LockClaim is appended to the select that picks a notification to
	// claim ("FOR UPDATE SKIP LOCKED" where rows can be locked).
	LockClaim string
	// RowLock is appended to a select that must lock the rows it reads
	// until the transaction ends (" FOR UPDATE"; empty with one writer).
	RowLock string
	// SingleNode: only one daemon uses the database (SQLite). At start the
	// daemon takes over the leases of notifications left running.
	SingleNode bool
}

// Dollar rebinds ? to $1, $2, ... (PostgreSQL).
func Dollar(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d Dialect) q(query string) string {
	if d.Rebind != nil {
		return d.Rebind(query)
	}
	return query
}

// migrator is a pool or one connection of it.
type migrator interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// migrate applies the embedded migrations that are not yet recorded in
// schema_migrations, each in its own transaction. applied_at is wall time:
// it records when this daemon migrated the database, before any clock of
// the DB is set.
func migrate(ctx context.Context, w migrator, d Dialect) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		var n int
		if err := w.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(body), "{{AUTOID}}", d.AutoID)
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, stmt := range splitStatements(text) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s: %w", base, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`), version, base, formatTime(time.Now())); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// splitStatements splits a migration on semicolons at line ends, dropping
// comment lines.
func splitStatements(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line + "\n")
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
