package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"

	"sluice/internal/model"
	"sluice/internal/store"
)

// configReader serves reads from the configuration a DB-less node serves.
type configReader struct {
	byEntity map[string][]store.Record
	byID     map[string]map[string]store.Record

	mu    sync.Mutex
	byKey map[[2]string]map[string]store.Record // (entity, field) -> value -> record
}

// readerCache keeps the reader of the configuration last served, so that
// records are converted once per configuration, not per request.
type readerCache struct {
	mu  sync.Mutex
	cfg *model.Config
	r   *configReader
}

func (c *readerCache) get(cfg *model.Config) *configReader {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.r == nil || c.cfg != cfg {
		c.cfg, c.r = cfg, newConfigReader(cfg)
	}
	return c.r
}

// newConfigReader converts cfg to records.
func newConfigReader(cfg *model.Config) *configReader {
	r := &configReader{byEntity: map[string][]store.Record{}, byID: map[string]map[string]store.Record{},
		byKey: map[[2]string]map[string]store.Record{}}
	if cfg != nil {
		var generic map[string][]store.Record
		if b, err := json.Marshal(cfg); err == nil {
			_ = json.Unmarshal(b, &generic)
		}
		for name, list := range generic {
			ids := make(map[string]store.Record, len(list))
			for _, rec := range list {
				ids[idOf(rec)] = rec
			}
			r.byEntity[name] = list
			r.byID[name] = ids
		}
	}
	return r
}

func (r *configReader) Get(_ context.Context, entity, id string) (store.Record, error) {
	if rec, ok := r.byID[entity][id]; ok {
		return rec, nil
	}
	return nil, store.ErrNotFound
}

func (r *configReader) GetByKey(_ context.Context, entity, field, value string) (store.Record, error) {
	r.mu.Lock()
	idx, ok := r.byKey[[2]string{entity, field}]
	if !ok {
		idx = map[string]store.Record{}
		for _, rec := range r.byEntity[entity] {
			if v, ok := rec[field].(string); ok {
				if _, dup := idx[v]; !dup {
					idx[v] = rec
				}
			}
		}
		r.byKey[[2]string{entity, field}] = idx
	}
	r.mu.Unlock()
	if rec, ok := idx[value]; ok {
		return rec, nil
	}
	return nil, store.ErrNotFound
}

func (r *configReader) List(_ context.Context, entity string, opts store.ListOptions) (store.Page, error) {
	start := 0
	if opts.Offset != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Offset)
		if err != nil {
			return store.Page{}, store.ErrInvalidOffset
		}
		n, err := strconv.Atoi(string(b))
		if err != nil || n < 0 {
			return store.Page{}, store.ErrInvalidOffset
		}
		start = n
	}
	size := opts.Size
	if size <= 0 {
		size = 100
	}
	var page store.Page
	list := r.byEntity[entity]
	for i := start; i < len(list); i++ {
		rec := list[i]
		if opts.Foreign != nil && fkID(rec, opts.Foreign.Field) != opts.Foreign.ID {
			continue
		}
		if len(opts.Tags) > 0 && !tagsMatch(rec, opts.Tags, opts.TagsOr) {
			continue
		}
		if len(page.Records) == size {
			page.Offset = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i)))
			break
		}
		page.Records = append(page.Records, rec)
	}
	return page, nil
}

func tagsMatch(rec store.Record, want []string, or bool) bool {
	have := map[string]bool{}
	list, _ := rec["tags"].([]any)
	for _, t := range list {
		if s, ok := t.(string); ok {
			have[s] = true
		}
	}
	for _, w := range want {
		if have[w] && or {
			return true
		}
		if !have[w] && !or {
			return false
		}
	}
	return !or
}

func emptyConfig() *model.Config { return &model.Config{} }
