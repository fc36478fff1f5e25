// Package sqlstore implements store.Store over database/sql with one generic
// layout shared by the SQLite (store/embedded) and PostgreSQL
// (store/postgres) backends:
//
//	entities(entity, id, seq, data)          one row per record, data is JSON
//	uniques(entity, field, value, id)        unique fields and cache keys
//	refs(child_entity, child_id, field, parent_entity, parent_id)
//	tags(entity, id, tag)
//	changes(pos, version, op, entity, id)    the change feed
//	meta(k, v)                               version and feed floor
//
// Entity metadata (unique fields, foreign keys and their on_delete, cache
// keys) comes from the model schemas. Writers are serialised: a write
// transaction begins by incrementing the version row, which both numbers the
// transaction's changes and (in PostgreSQL) locks out other writers until
// commit, so uniqueness and foreign-key checks made afterwards are exact, and
// a record read once in the transaction need not be read again. On
// PostgreSQL, where each statement is a round trip, the index, feed and
// NOTIFY writes that follow an entity's write go as one statement
// (Dialect.CombineWrites): a PATCH of a route is five round trips (begin,
// version, read, write, commit).
// Collections are paged in id order with Kong's PostgreSQL offset tokens
// (base64 of the JSON array of the last id), as Kong's Admin API pages.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/model"
	"sluice/internal/sched"
	"sluice/internal/store"
)

// Dialect holds what differs between the SQL backends.
type Dialect struct {
	// Dollar numbers placeholders $1, $2 (PostgreSQL) instead of ?.
	Dollar bool
	// JSONText is an SQL expression yielding the top-level string field
	// named by the next placeholder of the JSON text column data.
	JSONText string
	// MapErr maps a driver error (e.g. an unreachable server to
	// store.ErrUnavailable); nil leaves errors as they are.
	MapErr func(error) error
	// ReadTx are the options of snapshot reads (Load, ChangesSince).
	ReadTx *sql.TxOptions
	// ReadTimeout bounds each read outside a write transaction (Get,
	// GetByKey, List, Version, ChangesSince), so that a server that stops
	// answering fails reads instead of hanging them; 0 means none.
	ReadTimeout time.Duration
	// IDList renders "the id is one of ids" as an SQL condition on the
	// column id with one placeholder, and the argument to bind to it. A
	// single placeholder keeps one statement text (one cached plan) for any
	// number of ids, and both backends plan it as primary-key lookups.
	IDList func(ids []string) (cond string, arg any)
	// Notify returns the statement (with ? placeholders) that a write
	// transaction which changed something runs just before commit, with its
	// arguments (PostgreSQL's NOTIFY); nil for none.
	Notify func(version uint64) (query string, args []any)
	// CombineWrites sends the index, feed and notification writes of a
	// transaction as data-modifying WITH clauses of one statement, when
	// they touch different rows (PostgreSQL; each statement is a round trip
	// there, while SQLite runs in the process).
	CombineWrites bool
}

// FeedRetain is how many versions of changes the feed keeps by default.
const FeedRetain = 10000

// seqShift spaces creation sequences: seq = version<<seqShift | n, with n
// counting the inserts of one transaction.
const seqShift = 24

// Store is a store.Store over a database/sql handle.
type Store struct {
	db *sql.DB
	d  Dialect

	// Retain is how many versions of changes ChangesSince can serve.
	Retain uint64

	wmu sync.Mutex // one writer at a time from this process

	// keysOwned is set by EnsureIndexes when no stored record was left
	// without a unique key's row (a clash): then a key an old record
	// holds is known to be its own without a lookup.
	keysOwned atomic.Bool

	qmu     sync.RWMutex
	queries map[string]string

	smu    sync.Mutex
	subs   []chan struct{}
	closed bool
}

var _ store.Store = (*Store)(nil)

// New wraps db, whose schema must already hold the tables (see the
// backends' migrations).
func New(db *sql.DB, d Dialect) *Store {
	return &Store{db: db, d: d, Retain: FeedRetain, queries: map[string]string{}}
}

// DB returns the underlying handle.
func (s *Store) DB() *sql.DB { return s.db }

// maxCachedQueries bounds the rewritten-query cache (List builds a query
// per combination of filters).
const maxCachedQueries = 256

// q rewrites ? placeholders for the dialect (cached).
func (s *Store) q(query string) string {
	if !s.d.Dollar {
		return query
	}
	s.qmu.RLock()
	r, ok := s.queries[query]
	s.qmu.RUnlock()
	if ok {
		return r
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	r = b.String()
	s.qmu.Lock()
	if len(s.queries) < maxCachedQueries {
		s.queries[query] = r
	}
	s.qmu.Unlock()
	return r
}

func (s *Store) mapErr(err error) error {
	if err == nil || s.d.MapErr == nil {
		return err
	}
	return s.d.MapErr(err)
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements store.Reader over a querier.
type reader struct {
	s  *Store
	db querier
}

// readCtx applies the dialect's read timeout.
func (s *Store) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.d.ReadTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.d.ReadTimeout)
}

// Get implements store.Reader.
func (s *Store) Get(ctx context.Context, entity, id string) (store.Record, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	return reader{s, s.db}.Get(ctx, entity, id)
}

// GetByKey implements store.Reader.
func (s *Store) GetByKey(ctx context.Context, entity, field, value string) (store.Record, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	return reader{s, s.db}.GetByKey(ctx, entity, field, value)
}

// List implements store.Reader.
func (s *Store) List(ctx context.Context, entity string, opts store.ListOptions) (store.Page, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	return reader{s, s.db}.List(ctx, entity, opts)
}

func decodeRecord(data []byte) (store.Record, error) {
	var rec store.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("corrupt record: %w", err)
	}
	return rec, nil
}

func notFound(entity, what string) error {
	return fmt.Errorf("%s %s: %w", entity, what, store.ErrNotFound)
}

func (r reader) Get(ctx context.Context, entity, id string) (store.Record, error) {
	data, err := r.getData(ctx, entity, id)
	if err != nil {
		return nil, err
	}
	return decodeRecord(data)
}

// getData reads a record's stored JSON.
func (r reader) getData(ctx context.Context, entity, id string) ([]byte, error) {
	if _, err := lookupMeta(entity); err != nil {
		return nil, err
	}
	var data []byte
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT data FROM entities WHERE entity = ? AND id = ?`), entity, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(entity, strconv.Quote(id))
	}
	if err != nil {
		return nil, r.s.mapErr(err)
	}
	return data, nil
}

func (r reader) GetByKey(ctx context.Context, entity, field, value string) (store.Record, error) {
	if field == "id" {
		return r.Get(ctx, entity, value)
	}
	data, err := r.getDataByKey(ctx, entity, field, value)
	if err != nil {
		return nil, err
	}
	return decodeRecord(data)
}

// getDataByKey reads the stored JSON of the record whose field (not id)
// holds value.
func (r reader) getDataByKey(ctx context.Context, entity, field, value string) ([]byte, error) {
	m, err := lookupMeta(entity)
	if err != nil {
		return nil, err
	}
	if _, ok := m.schema.Field(field); !ok {
		return nil, fmt.Errorf("%s has no field %q", entity, field)
	}
	var data []byte
	if m.unique(field) {
		// Two primary-key equalities (not a join), which PostgreSQL serves
		// from the primary keys even under a generic plan made while the
		// tables were empty and never analysed since.
		err = r.db.QueryRowContext(ctx, r.s.q(`SELECT data FROM entities WHERE entity = ? AND id =
			(SELECT id FROM uniques WHERE entity = ? AND field = ? AND value = ?)`), entity, entity, field, value).Scan(&data)
	} else {
		// A non-unique endpoint key (targets' target): the first match in
		// creation order; callers scope it with List and Foreign.
		err = r.db.QueryRowContext(ctx, r.s.q(`SELECT data FROM entities WHERE entity = ? AND `+r.s.d.JSONText+` = ? ORDER BY seq LIMIT 1`),
			entity, field, value).Scan(&data)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(entity, field+"="+strconv.Quote(value))
	}
	if err != nil {
		return nil, r.s.mapErr(err)
	}
	return data, nil
}

// encodeOffset is Kong's PostgreSQL paging token: the primary key of the
// last record of a page as a JSON array, base64 without padding
// (kong/db/strategies/postgres/init.lua, page).
func encodeOffset(id string) string {
	b, _ := json.Marshal([]string{id})
	return base64.RawStdEncoding.EncodeToString(b)
}

// decodeOffset reads a token of encodeOffset. As Kong's, it is not bound
// to an entity: it names the id after which the next page starts. Padding
// is optional, as for ngx.decode_base64.
func decodeOffset(tok string) (string, error) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(tok, "="))
	if err != nil || tok == "" {
		return "", &store.OffsetError{Offset: tok, Reason: "bad base64 encoding"}
	}
	var key []string
	if err := json.Unmarshal(b, &key); err != nil || len(key) != 1 {
		return "", &store.OffsetError{Offset: tok, Reason: "bad json encoding"}
	}
	return key[0], nil
}

// MaxPageSize is Kong's upper bound of a page size.
const MaxPageSize = 1000

func (r reader) List(ctx context.Context, entity string, opts store.ListOptions) (store.Page, error) {
	m, err := lookupMeta(entity)
	if err != nil {
		return store.Page{}, err
	}
	size := opts.Size
	if size <= 0 {
		size = 100
	}
	if size > MaxPageSize {
		size = MaxPageSize
	}
	// Kong's PostgreSQL strategy pages in primary key order: after the
	// id of the token, ordered by id.
	after := ""
	if opts.Offset != "" {
		if after, err = decodeOffset(opts.Offset); err != nil {
			return store.Page{}, err
		}
	}
	var b strings.Builder
	args := []any{entity, after}
	b.WriteString(`SELECT e.id, e.data FROM entities e WHERE e.entity = ? AND e.id > ?`)
	if opts.Foreign != nil {
		f, ok := m.schema.Field(opts.Foreign.Field)
		if !ok || f.Type != model.TypeForeign {
			return store.Page{}, fmt.Errorf("%s has no foreign field %q", entity, opts.Foreign.Field)
		}
		b.WriteString(` AND EXISTS (SELECT 1 FROM refs r WHERE r.child_entity = e.entity AND r.child_id = e.id AND r.field = ? AND r.parent_id = ?)`)
		args = append(args, opts.Foreign.Field, opts.Foreign.ID)
	}
	if len(opts.Tags) > 0 {
		if opts.TagsOr {
			b.WriteString(` AND EXISTS (SELECT 1 FROM tags t WHERE t.entity = e.entity AND t.id = e.id AND t.tag IN (?` + strings.Repeat(",?", len(opts.Tags)-1) + `))`)
			for _, t := range opts.Tags {
				args = append(args, t)
			}
		} else {
			for _, t := range opts.Tags {
				b.WriteString(` AND EXISTS (SELECT 1 FROM tags t WHERE t.entity = e.entity AND t.id = e.id AND t.tag = ?)`)
				args = append(args, t)
			}
		}
	}
	b.WriteString(` ORDER BY e.id LIMIT ?`)
	args = append(args, size+1)
	rows, err := r.db.QueryContext(ctx, r.s.q(b.String()), args...)
	if err != nil {
		return store.Page{}, r.s.mapErr(err)
	}
	defer rows.Close()
	var page store.Page
	var last string
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return store.Page{}, r.s.mapErr(err)
		}
		if len(page.Records) == size {
			page.Offset = encodeOffset(last)
			break
		}
		rec, err := decodeRecord(data)
		if err != nil {
			return store.Page{}, err
		}
		page.Records = append(page.Records, rec)
		last = id
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, r.s.mapErr(err)
	}
	return page, nil
}

// Version implements store.Store.
func (s *Store) Version(ctx context.Context) (uint64, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'version'`).Scan(&v); err != nil {
		return 0, s.mapErr(err)
	}
	return uint64(v), nil
}

// ChangesSince implements store.Store.
func (s *Store) ChangesSince(ctx context.Context, v uint64) ([]store.Change, uint64, error) {
	changes, _, cur, err := s.changes(ctx, v, false)
	return changes, cur, err
}

// ChangedRecords implements store.Store.
func (s *Store) ChangedRecords(ctx context.Context, v uint64) ([]store.Change, map[store.EntityRef]store.Record, uint64, error) {
	return s.changes(ctx, v, true)
}

// changes reads the feed after v and, with records, the current data of
// the entities in it, all in one read transaction.
func (s *Store) changes(ctx context.Context, v uint64, records bool) ([]store.Change, map[store.EntityRef]store.Record, uint64, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, s.d.ReadTx)
	if err != nil {
		return nil, nil, 0, s.mapErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	var cur, floor int64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(CASE WHEN k = 'version' THEN v END), MAX(CASE WHEN k = 'floor' THEN v END)
		FROM meta WHERE k IN ('version', 'floor')`).Scan(&cur, &floor); err != nil {
		return nil, nil, 0, s.mapErr(err)
	}
	if v < uint64(floor) {
		return nil, nil, uint64(cur), store.ErrTooOld
	}
	if v >= uint64(cur) {
		return nil, nil, uint64(cur), nil
	}
	// Bounded on both sides: an index range whatever the statistics (an
	// open range is planned as a third of the table, a sequential scan).
	rows, err := tx.QueryContext(ctx, s.q(`SELECT version, op, entity, id FROM changes WHERE version > ? AND version <= ? ORDER BY pos`), int64(v), cur)
	if err != nil {
		return nil, nil, 0, s.mapErr(err)
	}
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var ver int64
		var op int
		if err := rows.Scan(&ver, &op, &c.Entity, &c.ID); err != nil {
			rows.Close()
			return nil, nil, 0, s.mapErr(err)
		}
		c.Version, c.Op = uint64(ver), store.Op(op)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, 0, s.mapErr(err)
	}
	if !records {
		return out, nil, uint64(cur), nil
	}
	recs, err := s.records(ctx, tx, out)
	if err != nil {
		return nil, nil, 0, err
	}
	return out, recs, uint64(cur), nil
}

// recordsChunk bounds the ids of one query of records.
const recordsChunk = 256

// records reads the current data of the entities named in changes, a
// chunk of ids of one entity kind per query.
func (s *Store) records(ctx context.Context, tx *sql.Tx, changes []store.Change) (map[store.EntityRef]store.Record, error) {
	byEntity := map[string][]string{}
	seen := map[store.EntityRef]bool{}
	for _, c := range changes {
		ref := store.EntityRef{Entity: c.Entity, ID: c.ID}
		if !seen[ref] {
			seen[ref] = true
			byEntity[c.Entity] = append(byEntity[c.Entity], c.ID)
		}
	}
	recs := make(map[store.EntityRef]store.Record, len(seen))
	for entity, ids := range byEntity {
		for chunk := range slices.Chunk(ids, recordsChunk) {
			cond, arg := s.d.IDList(chunk)
			q := `SELECT id, data FROM entities WHERE entity = ? AND ` + cond
			args := []any{entity, arg}
			if err := s.scanRecords(ctx, tx, entity, q, args, recs); err != nil {
				return nil, err
			}
		}
	}
	return recs, nil
}

func (s *Store) scanRecords(ctx context.Context, tx *sql.Tx, entity, q string, args []any, recs map[store.EntityRef]store.Record) error {
	rows, err := tx.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return s.mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		sched.Point()
		ref := store.EntityRef{Entity: entity}
		var data []byte
		if err := rows.Scan(&ref.ID, &data); err != nil {
			return s.mapErr(err)
		}
		rec, err := decodeRecord(data)
		if err != nil {
			return fmt.Errorf("%s %s: %w", ref.Entity, ref.ID, err)
		}
		recs[ref] = rec
	}
	return s.mapErr(rows.Err())
}

// Load implements store.Store: every record, decoded, in creation order,
// read from one snapshot together with its version.
func (s *Store) Load(ctx context.Context) (*model.Config, uint64, error) {
	tx, err := s.db.BeginTx(ctx, s.d.ReadTx)
	if err != nil {
		return nil, 0, s.mapErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'version'`).Scan(&v); err != nil {
		return nil, 0, s.mapErr(err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT entity, id, data FROM entities ORDER BY entity, seq`)
	if err != nil {
		return nil, 0, s.mapErr(err)
	}
	defer rows.Close()
	cfg := &model.Config{}
	for rows.Next() {
		var entity, id string
		var data []byte
		if err := rows.Scan(&entity, &id, &data); err != nil {
			return nil, 0, s.mapErr(err)
		}
		if err := appendDecoded(cfg, entity, id, data); err != nil {
			return nil, 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.mapErr(err)
	}
	return cfg, uint64(v), nil
}

// Notify implements store.Store. Each call returns a new channel; all of
// them are closed by Close.
func (s *Store) Notify() <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.closed {
		close(ch)
		return ch
	}
	s.subs = append(s.subs, ch)
	return ch
}

// Broadcast wakes every Notify channel without blocking (a pending wake-up
// absorbs the next ones).
func (s *Store) Broadcast() {
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Close closes the Notify channels and the database handle.
func (s *Store) Close() error {
	s.smu.Lock()
	if !s.closed {
		s.closed = true
		for _, ch := range s.subs {
			close(ch)
		}
		s.subs = nil
	}
	s.smu.Unlock()
	return s.db.Close()
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(err)
	}
	// Rolled back on every path but a commit, a panic in fn included (the
	// write connection must not stay locked); a rollback after Commit is a
	// no-op.
	defer func() { _ = sqlTx.Rollback() }()
	t := newTx(s, sqlTx)
	// The version is taken first: it locks out the other writers (other
	// nodes included) for the whole transaction, so that what fn reads is
	// what it writes over, and records read once can be remembered (seen).
	// A transaction that writes nothing rolls the increment back.
	if err := t.begin(ctx); err != nil {
		return err
	}
	if err := fn(t); err != nil {
		if t.failed != nil {
			return t.failed // the database's error, which fn saw as a consequence
		}
		return err
	}
	if t.failed == nil && t.wrote {
		if t.version > s.Retain && t.version%s.trimEvery() == 0 {
			if err := s.trim(ctx, t.db, int64(t.version-s.Retain)); err != nil {
				if t.failed != nil {
					return t.failed
				}
				return s.mapErr(err)
			}
		}
		if s.d.Notify != nil {
			q, args := s.d.Notify(t.version)
			if err := t.queue(ctx, pendingWrite{table: "", kind: opSelect, query: q, args: args}); err == nil {
				_ = t.flush(ctx) // a failure is in t.failed
			}
		} else {
			_ = t.flush(ctx)
		}
	}
	if t.failed != nil {
		// A write failed at the database level; the transaction may be
		// unusable (PostgreSQL aborts it), so nothing commits.
		_ = sqlTx.Rollback()
		return t.failed
	}
	if !t.wrote {
		return s.mapErr(sqlTx.Rollback())
	}
	if err := sqlTx.Commit(); err != nil {
		return s.mapErr(err)
	}
	s.Broadcast()
	return nil
}

// trim drops the changes at or below floor. The floor never goes down (a
// store reopened with a larger Retain cannot serve what was dropped), and
// the delete is a bounded index range above the previous floor.
func (s *Store) trim(ctx context.Context, sqlTx querier, floor int64) error {
	var prev int64
	if err := sqlTx.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'floor'`).Scan(&prev); err != nil {
		return err
	}
	if floor <= prev {
		return nil
	}
	if _, err := sqlTx.ExecContext(ctx, s.q(`DELETE FROM changes WHERE version > ? AND version <= ?`), prev, floor); err != nil {
		return err
	}
	_, err := sqlTx.ExecContext(ctx, s.q(`UPDATE meta SET v = ? WHERE k = 'floor'`), floor)
	return err
}

// trimEvery is how often (in versions) the feed is trimmed to Retain.
func (s *Store) trimEvery() uint64 {
	return max(1, min(256, s.Retain/4))
}

// tx implements store.Tx.
type tx struct {
	reader
	sqlTx   *sql.Tx
	version uint64 // taken at the start (begin)
	wrote   bool
	inserts int64
	failed  error
	// seen holds the stored JSON of the records this transaction has read
	// or written, nil for those it found absent or deleted. The version
	// lock keeps other writers out, so they stay exact until commit.
	seen map[entityID][]byte
	// pending are writes not sent yet (Dialect.CombineWrites): they go as
	// one statement before the next read, a conflicting write, or commit.
	pending []pendingWrite
}

// Bounds of one combined statement: writes (WITH clauses) and parameters.
const (
	maxCombinedWrites = 32
	maxCombinedArgs   = 4096
)

// Kinds of pending writes.
const (
	opInsert = iota
	opUpdate
	opDelete
	opSelect // the notification: the statement's main query
)

// pendingWrite is one statement of a transaction waiting to be combined.
// table and row say what it touches: two writes to one table may share a
// statement only when both insert, or when they touch different rows
// with the same kind of write (the clauses of one statement all see the
// rows as they were before it, and one row written twice is undefined).
type pendingWrite struct {
	table string
	kind  int
	row   entityID
	query string // ? placeholders
	args  []any
}

func newTx(s *Store, sqlTx *sql.Tx) *tx {
	t := &tx{sqlTx: sqlTx}
	t.reader = reader{s, txQuerier{t}}
	return t
}

// txQuerier is the transaction's querier for reads: pending writes are
// sent first, so that reads see them.
type txQuerier struct{ t *tx }

func (q txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := q.t.flush(ctx); err != nil {
		return nil, err
	}
	return q.t.sqlTx.ExecContext(ctx, query, args...)
}

func (q txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := q.t.flush(ctx); err != nil {
		return nil, err
	}
	return q.t.sqlTx.QueryContext(ctx, query, args...)
}

func (q txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := q.t.flush(ctx); err != nil {
		// A row whose Scan reports the failure: the query cannot run in
		// an aborted transaction anyway.
		return q.t.sqlTx.QueryRowContext(ctx, "SELECT 1 WHERE 1 = 0")
	}
	return q.t.sqlTx.QueryRowContext(ctx, query, args...)
}

// exec runs a write now.
func (t *tx) exec(ctx context.Context, query string, args ...any) error {
	if t.failed != nil {
		return t.failed
	}
	if _, err := t.db.ExecContext(ctx, t.s.q(query), args...); err != nil {
		if t.failed == nil {
			t.failed = t.s.mapErr(err)
		}
		return t.failed
	}
	return nil
}

// queue sends a write, or keeps it for the next combined statement.
func (t *tx) queue(ctx context.Context, w pendingWrite) error {
	if t.failed != nil {
		return t.failed
	}
	if !t.s.d.CombineWrites {
		return t.exec(ctx, w.query, w.args...)
	}
	// A bounded statement: PostgreSQL takes at most 65535 parameters, and
	// planning a statement of thousands of clauses costs more than the
	// round trips it saves.
	nargs := len(w.args)
	for _, p := range t.pending {
		nargs += len(p.args)
	}
	if len(t.pending) >= maxCombinedWrites || nargs > maxCombinedArgs {
		if err := t.flush(ctx); err != nil {
			return err
		}
	}
	for _, p := range t.pending {
		if p.table == w.table && (p.kind != w.kind || (w.kind != opInsert && p.row == w.row)) {
			if err := t.flush(ctx); err != nil {
				return err
			}
			break
		}
	}
	if w.kind == opInsert {
		// Rows for one table join its pending INSERT, in order: the
		// clauses of one statement run in no set order, and the feed's
		// order (children before parents) is its rows' order.
		head, tuples, _ := strings.Cut(w.query, " VALUES ")
		for i := range t.pending {
			p := &t.pending[i]
			if p.kind == opInsert && p.table == w.table && strings.HasPrefix(p.query, head+" VALUES ") {
				p.query += ", " + tuples
				p.args = append(p.args, w.args...)
				return nil
			}
		}
	}
	t.pending = append(t.pending, w)
	return nil
}

// flush sends the pending writes as one statement: each a WITH clause,
// the notification (if queued last) the main query.
func (t *tx) flush(ctx context.Context) error {
	if t.failed != nil {
		return t.failed
	}
	if len(t.pending) == 0 {
		return nil
	}
	ws := t.pending
	t.pending = t.pending[:0]
	var query string
	var args []any
	if len(ws) == 1 {
		query, args = t.s.q(ws[0].query), ws[0].args
	} else {
		main := "SELECT 1"
		var mainArgs []any
		if last := ws[len(ws)-1]; last.kind == opSelect {
			main, mainArgs = last.query, last.args
			ws = ws[:len(ws)-1]
		}
		var b strings.Builder
		n := 0
		write := func(q string) {
			for i := 0; i < len(q); i++ {
				if q[i] == '?' && t.s.d.Dollar {
					n++
					b.WriteString("$" + strconv.Itoa(n))
					continue
				}
				b.WriteByte(q[i])
			}
		}
		b.WriteString("WITH ")
		for i, w := range ws {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("w" + strconv.Itoa(i) + " AS (")
			write(w.query)
			b.WriteString(")")
			args = append(args, w.args...)
		}
		b.WriteString(" ")
		write(main)
		args = append(args, mainArgs...)
		query = b.String()
	}
	if _, err := t.sqlTx.ExecContext(ctx, query, args...); err != nil {
		t.failed = t.s.mapErr(err)
		return t.failed
	}
	return nil
}

// begin takes the version for this transaction (the writers' lock).
func (t *tx) begin(ctx context.Context) error {
	var v int64
	if err := t.sqlTx.QueryRowContext(ctx, `UPDATE meta SET v = v + 1 WHERE k = 'version' RETURNING v`).Scan(&v); err != nil {
		err = t.s.mapErr(err)
		t.failed = err
		return err
	}
	t.version = uint64(v)
	return nil
}

// remember records what the transaction knows of a record (nil: absent).
func (t *tx) remember(entity, id string, data []byte) {
	if t.seen == nil {
		t.seen = map[entityID][]byte{}
	}
	t.seen[entityID{entity, id}] = data
}

// Get implements store.Reader, from what the transaction has seen when it
// can.
func (t *tx) Get(ctx context.Context, entity, id string) (store.Record, error) {
	if t.failed != nil {
		return nil, t.failed
	}
	if data, ok := t.seen[entityID{entity, id}]; ok {
		if data == nil {
			return nil, notFound(entity, strconv.Quote(id))
		}
		return decodeRecord(data)
	}
	data, err := t.getData(ctx, entity, id)
	if t.failed != nil {
		return nil, t.failed // pending writes failed before the read
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			t.remember(entity, id, nil)
		}
		return nil, err
	}
	t.remember(entity, id, data)
	return decodeRecord(data)
}

// GetByKey implements store.Reader, remembering the record found.
func (t *tx) GetByKey(ctx context.Context, entity, field, value string) (store.Record, error) {
	if t.failed != nil {
		return nil, t.failed
	}
	if field == "id" {
		return t.Get(ctx, entity, value)
	}
	data, err := t.getDataByKey(ctx, entity, field, value)
	if t.failed != nil {
		return nil, t.failed
	}
	if err != nil {
		return nil, err
	}
	rec, err := decodeRecord(data)
	if err != nil {
		return nil, err
	}
	if id, _ := rec["id"].(string); id != "" {
		t.remember(entity, id, data)
	}
	return rec, nil
}

func (t *tx) exists(ctx context.Context, entity, id string) (bool, error) {
	if data, ok := t.seen[entityID{entity, id}]; ok {
		return data != nil, nil
	}
	var one int
	err := t.db.QueryRowContext(ctx, t.s.q(`SELECT 1 FROM entities WHERE entity = ? AND id = ?`), entity, id).Scan(&one)
	if t.failed != nil {
		return false, t.failed // pending writes failed: the read did not run
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		if t.failed != nil {
			return false, t.failed
		}
		return false, t.s.mapErr(err)
	}
	return true, nil
}

// check verifies a record's unique keys and foreign keys before it is
// written as id, and returns its keys and which of them have no row in
// uniques yet. old is the record being replaced (nil for an insert): a
// foreign key it already held needs no check, since a parent cannot be
// deleted from under its children.
func (t *tx) check(ctx context.Context, entity, id string, m *entityMeta, rec, old store.Record) (keys []uniqueKey, unclaimed []uniqueKey, err error) {
	keys = m.keys(rec)
	// The keys the record already holds are its own in uniques: only the
	// others are looked up (a PATCH of a route's paths looks up nothing).
	// That holds when every stored record owns its keys' rows, which
	// EnsureIndexes tells (a record it found clashing owns none).
	var held []uniqueKey
	if old != nil && t.s.keysOwned.Load() {
		held = m.keys(old)
	}
	isHeld := func(k uniqueKey) bool {
		return slices.ContainsFunc(held, func(h uniqueKey) bool { return h.field == k.field && h.value == k.value })
	}
	var ask []uniqueKey
	for _, k := range keys {
		if !isHeld(k) {
			ask = append(ask, k)
		}
	}
	owners, err := t.owners(ctx, entity, ask)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		if isHeld(k) {
			continue
		}
		owner, ok := owners[k.ref()]
		if !ok {
			unclaimed = append(unclaimed, k)
			continue
		}
		if owner != id {
			return nil, nil, uniqueErr(entity, k)
		}
	}
	for _, f := range m.foreigns {
		pid := foreignID(rec[f.Name])
		if pid == "" || (old != nil && foreignID(old[f.Name]) == pid) {
			continue
		}
		ok, err := t.exists(ctx, f.Reference, pid)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, &store.ForeignKeyError{Entity: entity, Field: f.Name, ParentEntity: f.Reference, ParentID: pid}
		}
	}
	return keys, unclaimed, nil
}

// owners reads, in one query, who holds each of keys (uniqueKey.ref to
// id); keys nobody holds are absent.
func (t *tx) owners(ctx context.Context, entity string, keys []uniqueKey) (map[string]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString(`SELECT field, value, id FROM uniques WHERE entity = ? AND (`)
	args := []any{entity}
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(field = ? AND value = ?)")
		args = append(args, k.field, k.value)
	}
	b.WriteString(")")
	rows, err := t.db.QueryContext(ctx, t.s.q(b.String()), args...)
	if err != nil {
		return nil, t.s.mapErr(err)
	}
	defer rows.Close()
	out := make(map[string]string, len(keys))
	for rows.Next() {
		var field, value, owner string
		if err := rows.Scan(&field, &value, &owner); err != nil {
			return nil, t.s.mapErr(err)
		}
		out[uniqueKey{field: field, value: value}.ref()] = owner
	}
	if err := rows.Err(); err != nil {
		return nil, t.s.mapErr(err)
	}
	return out, nil
}

// insertRows inserts rows into table (its columns cols) with one
// statement.
func (t *tx) insertRows(ctx context.Context, table, cols string, width int, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	args := make([]any, 0, width*len(rows))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
		args = append(args, r...)
	}
	return t.queue(ctx, pendingWrite{table: table, kind: opInsert, query: b.String(), args: args})
}

// writeIndexes claims keys and writes the foreign-key and tag rows of a new
// record.
func (t *tx) writeIndexes(ctx context.Context, entity, id string, m *entityMeta, rec store.Record, keys []uniqueKey) error {
	var uniq, refs, tags [][]any
	for _, k := range keys {
		uniq = append(uniq, []any{entity, k.field, k.value, id})
	}
	for _, f := range m.foreigns {
		if pid := foreignID(rec[f.Name]); pid != "" {
			refs = append(refs, []any{entity, id, f.Name, f.Reference, pid})
		}
	}
	for _, tag := range uniqueTags(rec) {
		tags = append(tags, []any{entity, id, tag})
	}
	return t.insertIndexRows(ctx, uniq, refs, tags)
}

// insertIndexRows writes rows of uniques, refs and tags, a statement per
// table that has any.
func (t *tx) insertIndexRows(ctx context.Context, uniq, refs, tags [][]any) error {
	if err := t.insertRows(ctx, "uniques", "entity, field, value, id", 4, uniq); err != nil {
		return err
	}
	if err := t.insertRows(ctx, "refs", "child_entity, child_id, field, parent_entity, parent_id", 5, refs); err != nil {
		return err
	}
	return t.insertRows(ctx, "tags", "entity, id, tag", 3, tags)
}

// uniqueTags is a record's tags without repeats, in order.
func uniqueTags(rec store.Record) []string {
	var out []string
	for _, tag := range tagsOf(rec) {
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out
}

// rewriteIndexes moves a replaced record's index rows from old to rec,
// touching only what differs: a PATCH of a route's paths writes no index
// row at all.
func (t *tx) rewriteIndexes(ctx context.Context, entity, id string, m *entityMeta, old, rec store.Record, keys, unclaimed []uniqueKey) error {
	claimed := func(ks []uniqueKey, k uniqueKey) bool {
		return slices.ContainsFunc(ks, func(x uniqueKey) bool { return x.field == k.field && x.value == k.value })
	}
	for _, k := range m.keys(old) {
		if !claimed(keys, k) {
			if err := t.queue(ctx, pendingWrite{table: "uniques", kind: opDelete, row: entityID{entity, id},
				query: `DELETE FROM uniques WHERE entity = ? AND field = ? AND value = ? AND id = ?`, args: []any{entity, k.field, k.value, id}}); err != nil {
				return err
			}
		}
	}
	var uniq, refs, tags [][]any
	for _, k := range unclaimed {
		uniq = append(uniq, []any{entity, k.field, k.value, id})
	}
	for _, f := range m.foreigns {
		was, now := foreignID(old[f.Name]), foreignID(rec[f.Name])
		if was == now {
			continue
		}
		if was != "" {
			if err := t.queue(ctx, pendingWrite{table: "refs", kind: opDelete, row: entityID{entity, id},
				query: `DELETE FROM refs WHERE child_entity = ? AND child_id = ? AND field = ?`, args: []any{entity, id, f.Name}}); err != nil {
				return err
			}
		}
		if now != "" {
			refs = append(refs, []any{entity, id, f.Name, f.Reference, now})
		}
	}
	oldTags, newTags := uniqueTags(old), uniqueTags(rec)
	for _, tag := range oldTags {
		if !slices.Contains(newTags, tag) {
			if err := t.queue(ctx, pendingWrite{table: "tags", kind: opDelete, row: entityID{entity, id},
				query: `DELETE FROM tags WHERE entity = ? AND id = ? AND tag = ?`, args: []any{entity, id, tag}}); err != nil {
				return err
			}
		}
	}
	for _, tag := range newTags {
		if !slices.Contains(oldTags, tag) {
			tags = append(tags, []any{entity, id, tag})
		}
	}
	return t.insertIndexRows(ctx, uniq, refs, tags)
}

func (t *tx) dropIndexes(ctx context.Context, entity, id string) error {
	if err := t.queue(ctx, pendingWrite{table: "uniques", kind: opDelete, row: entityID{entity, id},
		query: `DELETE FROM uniques WHERE entity = ? AND id = ?`, args: []any{entity, id}}); err != nil {
		return err
	}
	if err := t.queue(ctx, pendingWrite{table: "refs", kind: opDelete, row: entityID{entity, id},
		query: `DELETE FROM refs WHERE child_entity = ? AND child_id = ?`, args: []any{entity, id}}); err != nil {
		return err
	}
	return t.queue(ctx, pendingWrite{table: "tags", kind: opDelete, row: entityID{entity, id},
		query: `DELETE FROM tags WHERE entity = ? AND id = ?`, args: []any{entity, id}})
}

func (t *tx) change(ctx context.Context, op store.Op, entity, id string) error {
	t.wrote = true
	return t.queue(ctx, pendingWrite{table: "changes", kind: opInsert,
		query: `INSERT INTO changes (version, op, entity, id) VALUES (?, ?, ?, ?)`, args: []any{int64(t.version), int(op), entity, id}})
}

func recordID(entity string, rec store.Record) (string, error) {
	id, _ := rec["id"].(string)
	if id == "" {
		return "", fmt.Errorf("%s record without an id", entity)
	}
	return id, nil
}

// Insert implements store.Tx.
func (t *tx) Insert(ctx context.Context, entity string, rec store.Record) error {
	m, err := lookupMeta(entity)
	if err != nil {
		return err
	}
	id, err := recordID(entity, rec)
	if err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", entity, err)
	}
	if t.failed != nil {
		return t.failed
	}
	keys, _, err := t.check(ctx, entity, id, m, rec, nil)
	if err != nil {
		return err
	}
	t.inserts++
	seq := int64(t.version)<<seqShift | t.inserts
	res, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO entities (entity, id, seq, data) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		entity, id, seq, string(data))
	if err != nil {
		if t.failed == nil {
			t.failed = t.s.mapErr(err)
		}
		return t.failed
	}
	if n, err := res.RowsAffected(); err != nil {
		t.failed = t.s.mapErr(err)
		return t.failed
	} else if n == 0 {
		return &store.UniqueError{Entity: entity, Field: "id", Value: id}
	}
	t.remember(entity, id, data)
	if err := t.writeIndexes(ctx, entity, id, m, rec, keys); err != nil {
		return err
	}
	return t.change(ctx, store.OpCreate, entity, id)
}

// Replace implements store.Tx. The record keeps its place in creation order.
func (t *tx) Replace(ctx context.Context, entity string, rec store.Record) error {
	m, err := lookupMeta(entity)
	if err != nil {
		return err
	}
	id, err := recordID(entity, rec)
	if err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", entity, err)
	}
	if t.failed != nil {
		return t.failed
	}
	old, err := t.Get(ctx, entity, id) // ErrNotFound when there is none
	if err != nil {
		return err
	}
	keys, unclaimed, err := t.check(ctx, entity, id, m, rec, old)
	if err != nil {
		return err
	}
	if err := t.queue(ctx, pendingWrite{table: "entities", kind: opUpdate, row: entityID{entity, id},
		query: `UPDATE entities SET data = ? WHERE entity = ? AND id = ?`, args: []any{string(data), entity, id}}); err != nil {
		return err
	}
	t.remember(entity, id, data)
	if err := t.rewriteIndexes(ctx, entity, id, m, old, rec, keys, unclaimed); err != nil {
		return err
	}
	return t.change(ctx, store.OpUpdate, entity, id)
}

type entityID struct{ entity, id string }

// checkCAReferences refuses, as Kong's ca_certificates DAO does, the
// deletion of a CA certificate still listed in an entity's ca_certificates
// array (services). Such arrays are not foreign keys, so the candidates are
// found by text and confirmed on the decoded record.
func (t *tx) checkCAReferences(ctx context.Context, e entityID) error {
	if e.entity != "ca_certificates" {
		return nil
	}
	for _, entity := range caReferrers() {
		rows, err := t.db.QueryContext(ctx, t.s.q(`SELECT id, data FROM entities WHERE entity = ? AND data LIKE ? ORDER BY seq`),
			entity, "%"+e.id+"%")
		if err != nil {
			return t.s.mapErr(err)
		}
		var found string
		for rows.Next() && found == "" {
			var id string
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				rows.Close()
				return t.s.mapErr(err)
			}
			var rec struct {
				CACertificates []string `json:"ca_certificates"`
			}
			if json.Unmarshal(data, &rec) == nil && slices.Contains(rec.CACertificates, e.id) {
				found = id
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t.s.mapErr(err)
		}
		if found != "" {
			return &store.ReferencedError{Entity: e.entity, ID: e.id, ReferencedBy: entity, ReferencedByID: found}
		}
	}
	return nil
}

// Delete implements store.Tx. The whole cascade is checked before anything
// is deleted, so a restricted delete leaves the transaction as it was.
func (t *tx) Delete(ctx context.Context, entity, id string) error {
	if _, err := lookupMeta(entity); err != nil {
		return err
	}
	if t.failed != nil {
		return t.failed
	}
	ok, err := t.exists(ctx, entity, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(entity, strconv.Quote(id))
	}
	// Collect the cascade depth-first; children come before their parent.
	var order []entityID
	seen := map[entityID]bool{}
	var visit func(e entityID) error
	visit = func(e entityID) error {
		seen[e] = true
		rows, err := t.db.QueryContext(ctx, t.s.q(`SELECT child_entity, child_id, field FROM refs WHERE parent_entity = ? AND parent_id = ? ORDER BY child_entity, child_id`), e.entity, e.id)
		if err != nil {
			return t.s.mapErr(err)
		}
		type ref struct{ entity, id, field string }
		var children []ref
		for rows.Next() {
			var r ref
			if err := rows.Scan(&r.entity, &r.id, &r.field); err != nil {
				rows.Close()
				return t.s.mapErr(err)
			}
			children = append(children, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t.s.mapErr(err)
		}
		if err := t.checkCAReferences(ctx, e); err != nil {
			return err
		}
		for _, c := range children {
			if !cascades(c.entity, c.field) {
				return &store.ForeignKeyError{Entity: e.entity, Field: c.field, ParentEntity: e.entity, ParentID: e.id, ReferencedBy: c.entity}
			}
		}
		for _, c := range children {
			ce := entityID{c.entity, c.id}
			if seen[ce] {
				continue
			}
			if err := visit(ce); err != nil {
				return err
			}
		}
		order = append(order, e)
		return nil
	}
	if err := visit(entityID{entity, id}); err != nil {
		return err
	}
	for _, e := range order {
		if err := t.queue(ctx, pendingWrite{table: "entities", kind: opDelete, row: e,
			query: `DELETE FROM entities WHERE entity = ? AND id = ?`, args: []any{e.entity, e.id}}); err != nil {
			return err
		}
		t.remember(e.entity, e.id, nil)
		if err := t.dropIndexes(ctx, e.entity, e.id); err != nil {
			return err
		}
		if err := t.change(ctx, store.OpDelete, e.entity, e.id); err != nil {
			return err
		}
	}
	return nil
}
