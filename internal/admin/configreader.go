package admin

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/model"
	"sluice/internal/sched"
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
// records are converted once per configuration, not per request (a client
// paging through a list). The reader holds every entity as a generic
// record, several times the typed configuration, and its configuration,
// which may have been replaced since: both are dropped once the reader has
// not been used for readerIdle.
type readerCache struct {
	mu    sync.Mutex
	cfg   *model.Config
	r     *configReader
	timer *time.Timer
}

// readerIdle is how long an unused reader is kept.
const readerIdle = 30 * time.Second

func (c *readerCache) get(cfg *model.Config) *configReader {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.r == nil || c.cfg != cfg {
		c.cfg, c.r = cfg, newConfigReader(cfg)
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(readerIdle, c.drop)
	} else {
		c.timer.Reset(readerIdle)
	}
	return c.r
}

// drop forgets the reader and its configuration.
func (c *readerCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg, c.r = nil, nil
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

// replyEntities writes Kong's POST /config answer, entity type -> id ->
// entity, straight from cfg one entity at a time: building it as generic
// maps first (marshal, unmarshal, marshal again) cost more memory than the
// parse of the config itself. The body is streamed (chunked), without a
// Content-Length. Entity types and ids come sorted, as a marshalled map
// would have them.
func (s *server) replyEntities(c *call, status int, cfg *model.Config) error {
	s.writeLatency(c)
	c.status = status
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	bw := bufio.NewWriterSize(c.w, 32<<10)
	if err := writeEntitiesByID(bw, cfg); err != nil {
		return nil // the status is out; the client sees a cut body
	}
	_ = bw.Flush()
	return nil
}

// writeEntitiesByID writes cfg as {"<entity type>": {"<id>": <entity>}}.
func writeEntitiesByID(w *bufio.Writer, cfg *model.Config) error {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	type field struct {
		name string
		list reflect.Value
	}
	fields := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || v.Field(i).Kind() != reflect.Slice {
			continue
		}
		fields = append(fields, field{name, v.Field(i)})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	// One encoder for every entity: it reuses its buffer, where Marshal
	// would allocate one per entity (megabytes of garbage per answer). Its
	// newline after each value is JSON whitespace.
	enc := json.NewEncoder(w)
	w.WriteByte('{')
	for n, f := range fields {
		if n > 0 {
			w.WriteByte(',')
		}
		writeJSONString(w, f.name)
		w.WriteString(":{")
		ids := make([]string, f.list.Len())
		order := make([]int, f.list.Len())
		for i := range ids {
			order[i] = i
			if e := f.list.Index(i); !e.IsNil() {
				ids[i] = e.Elem().FieldByName("ID").String()
			}
		}
		slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })
		written := 0
		for k, i := range order {
			sched.Point()
			if k+1 < len(order) && ids[order[k+1]] == ids[i] {
				continue // one entry per id, the last one, as a map would keep
			}
			if written > 0 {
				w.WriteByte(',')
			}
			written++
			writeJSONString(w, ids[i])
			w.WriteByte(':')
			if err := enc.Encode(f.list.Index(i).Interface()); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	}
	w.WriteByte('}')
	return nil
}

func writeJSONString(w *bufio.Writer, s string) {
	if !plainJSONString(s) {
		b, _ := json.Marshal(s)
		w.Write(b)
		return
	}
	w.WriteByte('"') // ids and entity names: written as they are
	w.WriteString(s)
	w.WriteByte('"')
}

// plainJSONString reports whether json.Marshal writes s between quotes
// unchanged: printable ASCII without the characters it escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
