package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"sluice/internal/model"
)

// IndexFingerprint identifies the derived metadata the uniques, refs and
// tags tables were built with: every entity's unique fields, cache key and
// foreign fields. It changes when a schema does.
func IndexFingerprint() int64 {
	h := fnv.New64a()
	names := model.Entities()
	sort.Strings(names)
	for _, e := range names {
		m, err := lookupMeta(e)
		if err != nil {
			continue
		}
		var fs []string
		for _, f := range m.foreigns {
			fs = append(fs, f.Name+">"+f.Reference)
		}
		_, _ = fmt.Fprintf(h, "%s|%s|%s|%s\n", e, strings.Join(m.uniques, ","), strings.Join(m.cacheKey, ","), strings.Join(fs, ","))
	}
	return int64(h.Sum64() &^ (1 << 63))
}

// EnsureIndexes rebuilds the uniques, refs and tags tables from the stored
// records when they were built with other metadata (an older schema), and
// records the fingerprint. Backends call it when they open. A record that
// now clashes with an earlier one keeps its data but does not claim the
// clashing key; the count of such records is returned.
func (s *Store) EnsureIndexes(ctx context.Context) (clashes int, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.mapErr(err)
	}
	defer func() { _ = sqlTx.Rollback() }()
	want := IndexFingerprint()
	// The update takes the write lock (SQLite) or the row lock
	// (PostgreSQL, so that one node rebuilds at a time).
	if _, err := sqlTx.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('index_fp', 0) ON CONFLICT DO NOTHING`); err != nil {
		return 0, s.mapErr(err)
	}
	var have int64
	if err := sqlTx.QueryRowContext(ctx, `UPDATE meta SET v = v WHERE k = 'index_fp' RETURNING v`).Scan(&have); err != nil {
		return 0, s.mapErr(err)
	}
	if have == want {
		var left int64
		err := sqlTx.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'index_clashes'`).Scan(&left)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, s.mapErr(err)
		}
		s.keysOwned.Store(left == 0)
		return 0, nil
	}
	for _, table := range []string{"uniques", "refs", "tags"} {
		if _, err := sqlTx.ExecContext(ctx, `DELETE FROM `+table); err != nil {
			return 0, s.mapErr(err)
		}
	}
	type row struct {
		entity, id string
		data       []byte
	}
	rows, err := sqlTx.QueryContext(ctx, `SELECT entity, id, data FROM entities ORDER BY seq`)
	if err != nil {
		return 0, s.mapErr(err)
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.entity, &r.id, &r.data); err != nil {
			rows.Close()
			return 0, s.mapErr(err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, s.mapErr(err)
	}
	t := newTx(s, sqlTx)
	for _, r := range all {
		m, err := lookupMeta(r.entity)
		if err != nil {
			continue // an entity this build does not know: kept, unindexed
		}
		var rec map[string]any
		if err := json.Unmarshal(r.data, &rec); err != nil {
			return 0, fmt.Errorf("reindex %s %s: %w", r.entity, r.id, err)
		}
		all := m.keys(rec)
		owners, err := t.owners(ctx, r.entity, all)
		if err != nil {
			return 0, err
		}
		var keys []uniqueKey
		for _, k := range all {
			if _, taken := owners[k.ref()]; taken {
				clashes++
				continue
			}
			keys = append(keys, k)
		}
		if err := t.writeIndexes(ctx, r.entity, r.id, m, rec, keys); err != nil {
			return 0, err
		}
	}
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	if _, err := sqlTx.ExecContext(ctx, s.q(`UPDATE meta SET v = ? WHERE k = 'index_fp'`), want); err != nil {
		return 0, s.mapErr(err)
	}
	// The count of records left without a key's row stays until the next
	// rebuild: while it is not zero, writes look up every key.
	if _, err := sqlTx.ExecContext(ctx, s.q(`INSERT INTO meta (k, v) VALUES ('index_clashes', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`), clashes); err != nil {
		return 0, s.mapErr(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return 0, s.mapErr(err)
	}
	s.keysOwned.Store(clashes == 0)
	return clashes, nil
}
