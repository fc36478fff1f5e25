// Package store defines the Store interface that the Admin API writes through
// and the reloader reads from, its sentinel errors and the change feed types.
// Backends live in store/embedded (SQLite file) and store/postgres; both pass
// the conformance suite in store/storetest.
//
// Records are Kong's entity records as produced by model.Schema.Process
// (map[string]any with every schema field present). Validation happens before
// a record reaches the store; the store enforces only identity, uniqueness of
// endpoint keys and unique fields, foreign keys and cascades, all inside one
// transaction so that a failed write leaves nothing behind.
package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sluice/internal/model"
)

// Record is one entity in Kong's JSON shape.
type Record = map[string]any

// Sentinel errors. Backends wrap them with context; callers test with
// errors.Is and errors.As.
var (
	// ErrNotFound: no entity with that id or endpoint key.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the database cannot be reached; the Admin API answers
	// 503 and the data plane keeps serving its last snapshot.
	ErrUnavailable = errors.New("database unavailable")
	// ErrInvalidOffset: a paging token that this store did not issue.
	// Stores return it as an *OffsetError naming the reason.
	ErrInvalidOffset = errors.New("invalid offset")
)

// OffsetError is an unreadable paging token; Reason is Kong's ("bad base64
// encoding", "bad json encoding"). errors.Is(err, ErrInvalidOffset) holds.
type OffsetError struct {
	Offset string
	Reason string
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("'%s' is not a valid offset: %s", e.Offset, e.Reason)
}

// Is makes an OffsetError match ErrInvalidOffset.
func (e *OffsetError) Is(target error) bool { return target == ErrInvalidOffset }

// UniqueError is Kong's "unique constraint violation" (409). For a
// composite key (an entity's cache key, e.g. a plugin's name, route, service
// and consumer) Field is "@cache_key" and Values holds every component
// (foreign ones as {"id": ...}, unset ones as nil). Field "id" is a primary
// key clash.
type UniqueError struct {
	Entity string
	Field  string
	Value  any
	Values map[string]any
}

func (e *UniqueError) Error() string {
	if e.Values != nil {
		keys := make([]string, 0, len(e.Values))
		for k := range e.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("UNIQUE violation detected on '{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(k + "=" + luaValue(e.Values[k]))
		}
		b.WriteString("}'")
		return b.String()
	}
	return fmt.Sprintf("UNIQUE violation detected on '{%s=%q}'", e.Field, fmt.Sprint(e.Value))
}

// luaValue renders a key component as Kong's pl.pretty does on one line.
func luaValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(t)
	case map[string]any:
		id, _ := t["id"].(string)
		return "{id=" + strconv.Quote(id) + "}"
	}
	return fmt.Sprint(v)
}

// ForeignKeyError is Kong's "foreign key violation" (400): a reference to a
// missing parent, or (ReferencedBy set) the deletion of a referenced parent.
type ForeignKeyError struct {
	Entity       string // the entity written or deleted
	Field        string // the foreign field, e.g. "service"
	ParentEntity string // e.g. "services"
	ParentID     string
	ReferencedBy string // on delete: the child entity that still references it
}

func (e *ForeignKeyError) Error() string {
	if e.ReferencedBy != "" {
		return fmt.Sprintf("an existing '%s' entity references this '%s' entity", e.ReferencedBy, e.Entity)
	}
	return fmt.Sprintf("the foreign key '{id=%q}' does not reference an existing '%s' entity.", e.ParentID, e.ParentEntity)
}

// ReferencedError is Kong's "referenced by others" error (400): the
// deletion of a CA certificate that an entity (a service) still lists in its
// ca_certificates.
type ReferencedError struct {
	Entity         string // "ca_certificates"
	ID             string
	ReferencedBy   string // e.g. "services"
	ReferencedByID string
}

func (e *ReferencedError) Error() string {
	return fmt.Sprintf("ca certificate %s is still referenced by %s (id = %s)", e.ID, e.ReferencedBy, e.ReferencedByID)
}

// ListOptions selects one page of a collection.
type ListOptions struct {
	Size   int    // page size, 1..1000 (Kong's default 100)
	Offset string // token from the previous page, "" for the first
	Tags   []string
	TagsOr bool // true: any tag matches (Kong's "/"), false: all (Kong's ",")
	// Foreign restricts to children of one parent, e.g. {"service", id}.
	Foreign *Foreign
}

// Foreign names a parent by its foreign field and id.
type Foreign struct {
	Field string
	ID    string
}

// Page is one page of records and the token for the next ("" when last).
type Page struct {
	Records []Record
	Offset  string
}

// Reader reads entities by their DAO name ("services", "routes", ...).
type Reader interface {
	Get(ctx context.Context, entity, id string) (Record, error)
	// GetByKey looks up by the entity's endpoint key or another unique field.
	GetByKey(ctx context.Context, entity, field, value string) (Record, error)
	List(ctx context.Context, entity string, opts ListOptions) (Page, error)
}

// Tx is a read-write transaction. Writes are visible to later reads in the
// same transaction and to nobody else until it commits.
type Tx interface {
	Reader
	// Insert stores a new record; rec must carry its id and timestamps.
	Insert(ctx context.Context, entity string, rec Record) error
	// Replace overwrites an existing record (same id).
	Replace(ctx context.Context, entity string, rec Record) error
	// Delete removes a record and, as Kong does, the children whose foreign
	// key cascades (plugins of a route, targets of an upstream, credentials
	// of a consumer). A record still referenced by a non-cascading child
	// (a route's service) fails with *ForeignKeyError.
	Delete(ctx context.Context, entity, id string) error
}

// Op is the kind of a change.
type Op uint8

// Change operations.
const (
	OpCreate Op = iota + 1
	OpUpdate
	OpDelete
)

// Change is one committed entity change in the feed.
type Change struct {
	Version uint64 // the config version this change produced
	Op      Op
	Entity  string
	ID      string
}

// EntityRef names one record.
type EntityRef struct{ Entity, ID string }

// Store is a transactional entity store with a change feed.
type Store interface {
	Reader
	// Update runs fn in one read-write transaction: all of its writes commit,
	// or (fn returns an error, or the commit fails) none do.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Load reads the whole config and the version it reflects.
	Load(ctx context.Context) (*model.Config, uint64, error)
	// Version is the current config version: it increases with every
	// committed write.
	Version(ctx context.Context) (uint64, error)
	// ChangesSince returns the changes after version v, oldest first, and
	// the latest version. A caller that has fallen too far behind gets
	// ErrTooOld and reloads with Load.
	ChangesSince(ctx context.Context, v uint64) ([]Change, uint64, error)
	// ChangedRecords is ChangesSince that also returns, read in the same
	// snapshot, the current record of every entity that changed (an entity
	// deleted by then has none), so that a follower applies a burst of
	// changes with one read instead of one per entity.
	ChangedRecords(ctx context.Context, v uint64) ([]Change, map[EntityRef]Record, uint64, error)
	// Notify returns a channel that receives (without blocking the writer,
	// coalescing bursts) after commits, from this node or any other. A lost
	// notification only delays: followers also poll Version.
	Notify() <-chan struct{}
	Close() error
}

// ErrTooOld: the change feed no longer holds changes that old.
var ErrTooOld = errors.New("change feed position too old")

// Events is implemented by the stores a cluster shares: events that are
// not configuration (a target's health set through the Admin API),
// delivered to every node, as Kong's cluster events are. They are not
// stored: a node that is down when one is published never sees it.
type Events interface {
	// Publish sends payload to the OnEvent function of every node,
	// this one's included.
	Publish(ctx context.Context, payload string) error
	// OnEvent sets the function called with each event's payload.
	OnEvent(f func(payload string))
}
