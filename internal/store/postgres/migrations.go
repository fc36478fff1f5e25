package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationsTable records the executed migrations.
const migrationsTable = "sluice_schema_migrations"

// lockKey is the advisory lock that serialises migration runs of several
// nodes.
const lockKey = 0x51_1C_E0_01

// ErrBootstrapped: Bootstrap on a database that already is.
var ErrBootstrapped = errors.New("database already bootstrapped")

// ErrNotBootstrapped: Up on a database that was never bootstrapped.
var ErrNotBootstrapped = errors.New("database not bootstrapped: run 'sluice migrations bootstrap'")

// MigrationStatus describes the migrations of a database.
type MigrationStatus struct {
	Bootstrapped bool
	Executed     []string
	Pending      []string
}

// Migrations lists the embedded migrations in order.
func Migrations() []string {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".sql"))
	}
	sort.Strings(names)
	return names
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func status(ctx context.Context, db queryer) (MigrationStatus, error) {
	var st MigrationStatus
	var exists bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrationsTable).Scan(&exists)
	if err != nil {
		return st, mapErr(fmt.Errorf("postgres: %w", err))
	}
	done := map[string]bool{}
	if exists {
		rows, err := db.QueryContext(ctx, `SELECT name FROM `+migrationsTable+` ORDER BY name`)
		if err != nil {
			return st, mapErr(fmt.Errorf("postgres: %w", err))
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return st, mapErr(err)
			}
			done[n] = true
			st.Executed = append(st.Executed, n)
		}
		if err := rows.Err(); err != nil {
			return st, mapErr(err)
		}
	}
	st.Bootstrapped = exists && len(st.Executed) > 0
	for _, m := range Migrations() {
		if !done[m] {
			st.Pending = append(st.Pending, m)
		}
	}
	return st, nil
}

// Status reports which migrations the database has executed.
func Status(ctx context.Context, o Options) (MigrationStatus, error) {
	db, _, err := openDB(o)
	if err != nil {
		return MigrationStatus{}, err
	}
	defer func() { _ = db.Close() }()
	return status(ctx, db)
}

// withLock runs fn on one connection holding the migrations' advisory lock.
func withLock(ctx context.Context, o Options, fn func(conn *sql.Conn) error) error {
	db, _, err := openDB(o)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	conn, err := db.Conn(ctx)
	if err != nil {
		return mapErr(fmt.Errorf("postgres: %w", err))
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return mapErr(fmt.Errorf("postgres: %w", err))
	}
	defer func() { _, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockKey) }()
	return fn(conn)
}

func run(ctx context.Context, conn *sql.Conn, pending []string) error {
	for _, name := range pending {
		body, err := migrationFS.ReadFile("migrations/" + name + ".sql")
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return mapErr(err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return mapErr(fmt.Errorf("migration %s: %w", name, err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+migrationsTable+` (name) VALUES ($1)`, name); err != nil {
			_ = tx.Rollback()
			return mapErr(fmt.Errorf("migration %s: %w", name, err))
		}
		if err := tx.Commit(); err != nil {
			return mapErr(fmt.Errorf("migration %s: %w", name, err))
		}
	}
	return nil
}

// Bootstrap creates sluice's tables in an empty database (and its schema
// when Options.Schema is set) and runs every migration.
func Bootstrap(ctx context.Context, o Options) error {
	return withLock(ctx, o, func(conn *sql.Conn) error {
		st, err := status(ctx, conn)
		if err != nil {
			return err
		}
		if st.Bootstrapped {
			return ErrBootstrapped
		}
		if o.Schema != "" {
			if _, err := conn.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+quoteIdent(o.Schema)); err != nil {
				return mapErr(fmt.Errorf("postgres: %w", err))
			}
		}
		if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
			name TEXT PRIMARY KEY, executed_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return mapErr(fmt.Errorf("postgres: %w", err))
		}
		return run(ctx, conn, st.Pending)
	})
}

// Up runs the pending migrations of a bootstrapped database and returns
// their names.
func Up(ctx context.Context, o Options) ([]string, error) {
	var ran []string
	err := withLock(ctx, o, func(conn *sql.Conn) error {
		st, err := status(ctx, conn)
		if err != nil {
			return err
		}
		if !st.Bootstrapped {
			return ErrNotBootstrapped
		}
		ran = st.Pending
		return run(ctx, conn, st.Pending)
	})
	return ran, err
}

// tables are sluice's tables, dropped by Reset.
var tables = []string{"entities", "uniques", "refs", "tags", "changes", "meta", "ratelimiting_metrics", "response_ratelimiting_metrics", migrationsTable}

// dropFunctions drops the functions the migrations create.
const dropFunctions = `DROP FUNCTION IF EXISTS ratelimiting_take(TEXT, UUID, UUID, BIGINT[], BIGINT[])`

// Reset drops every sluice table: all entities are lost.
func Reset(ctx context.Context, o Options) error {
	return withLock(ctx, o, func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, `DROP TABLE IF EXISTS `+strings.Join(tables, ", ")+` CASCADE; `+dropFunctions); err != nil {
			return mapErr(fmt.Errorf("postgres: %w", err))
		}
		return nil
	})
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// GetStatus is Status (the name cmd/sluice first used).
func GetStatus(ctx context.Context, o Options) (MigrationStatus, error) { return Status(ctx, o) }
