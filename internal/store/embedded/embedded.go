// Package embedded is the default store (database = embedded): one SQLite
// file in the data directory, through the pure-Go modernc.org/sqlite driver.
//
// The file is in WAL mode, so readers never wait for the writer; writers are
// serialised in the process (one writer at a time, as SQLite allows), and one
// process at a time uses a directory: Open takes an exclusive lock on it
// (LockName). Notify fires after each local commit. Each
// connection's page cache is capped (CacheKiB), and the pool holds at most
// MaxConns connections, so the SQLite page cache of a Store never exceeds
// CacheBytes. Commits are durable against a process crash; synchronous =
// NORMAL means the last transactions before a power loss may be lost.
package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"sluice/internal/store"
	"sluice/internal/store/sqlstore"
)

const (
	// CacheKiB is each connection's page cache cap (PRAGMA cache_size).
	CacheKiB = 2048
	// MaxConns is the connection pool size.
	MaxConns = 4
	// CacheBytes is the most page cache a Store holds.
	CacheBytes = CacheKiB * 1024 * MaxConns
	// BusyTimeoutMs is how long a connection waits for a lock held by
	// another process before failing.
	BusyTimeoutMs = 5000
)

// FileName is the database file Open creates in its directory.
const FileName = "sluice.db"

// LockName is the lock file that keeps a second process (or a second Open)
// from using the same data directory.
const LockName = "sluice.db.lock"

// Store is the embedded store.
type Store struct {
	*sqlstore.Store
	path string
	lock *os.File
}

// lockDir takes the data directory's exclusive lock, released by the kernel
// when the process dies.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("embedded store: data directory %s is in use by another sluice process", dir)
		}
		return nil, fmt.Errorf("embedded store: lock %s: %w", dir, err)
	}
	return f, nil
}

// Close closes the database and releases the directory.
func (s *Store) Close() error {
	err := s.Store.Close()
	if s.lock != nil {
		_ = s.lock.Close()
		s.lock = nil
	}
	return err
}

var _ store.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS entities (
	entity TEXT NOT NULL,
	id     TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	data   TEXT NOT NULL,
	PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS entities_entity_seq ON entities (entity, seq);
CREATE TABLE IF NOT EXISTS uniques (
	entity TEXT NOT NULL,
	field  TEXT NOT NULL,
	value  TEXT NOT NULL,
	id     TEXT NOT NULL,
	PRIMARY KEY (entity, field, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uniques_id ON uniques (entity, id);
CREATE TABLE IF NOT EXISTS refs (
	child_entity  TEXT NOT NULL,
	child_id      TEXT NOT NULL,
	field         TEXT NOT NULL,
	parent_entity TEXT NOT NULL,
	parent_id     TEXT NOT NULL,
	PRIMARY KEY (child_entity, child_id, field)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_parent ON refs (parent_entity, parent_id);
CREATE TABLE IF NOT EXISTS tags (
	entity TEXT NOT NULL,
	id     TEXT NOT NULL,
	tag    TEXT NOT NULL,
	PRIMARY KEY (entity, id, tag)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
	pos     INTEGER PRIMARY KEY AUTOINCREMENT,
	version INTEGER NOT NULL,
	op      INTEGER NOT NULL,
	entity  TEXT NOT NULL,
	id      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_version ON changes (version);
CREATE TABLE IF NOT EXISTS meta (
	k TEXT PRIMARY KEY,
	v INTEGER NOT NULL
);
INSERT INTO meta (k, v) VALUES ('version', 0), ('floor', 0) ON CONFLICT DO NOTHING;
`

// Open opens (creating if needed) the store in directory dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMs),
		fmt.Sprintf("cache_size(-%d)", CacheKiB),
		"synchronous(NORMAL)",
		"foreign_keys(OFF)",
	} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	db.SetMaxOpenConns(MaxConns)
	db.SetMaxIdleConns(MaxConns)
	if _, err := db.ExecContext(context.Background(), schema); err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	s := sqlstore.New(db, sqlstore.Dialect{JSONText: `(data ->> ?)`, IDList: jsonIDList})
	if _, err := s.EnsureIndexes(context.Background()); err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	return &Store{Store: s, path: path, lock: lock}, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// jsonIDList binds a list of ids as one JSON array, read with json_each.
func jsonIDList(ids []string) (string, any) {
	b, _ := json.Marshal(ids)
	return "id IN (SELECT value FROM json_each(?))", string(b)
}
