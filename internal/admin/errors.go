package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"sluice/internal/model"
	"sluice/internal/store"
)

// Kong's DAO error codes (kong/db/errors.lua).
const (
	codeInvalidPrimaryKey   = 1
	codeSchemaViolation     = 2
	codePrimaryKey          = 3
	codeForeignKey          = 4
	codeUnique              = 5
	codeInvalidOffset       = 7
	codeInvalidSize         = 9
	codeInvalidUnique       = 10
	codeInvalidOptions      = 11
	codeOperationUnsupport  = 12
	codeForeignKeysUnresolv = 13
	codeReferencedByOthers  = 19
)

var codeNames = map[int]string{
	codeInvalidPrimaryKey:   "invalid primary key",
	codeSchemaViolation:     "schema violation",
	codePrimaryKey:          "primary key violation",
	codeForeignKey:          "foreign key violation",
	codeUnique:              "unique constraint violation",
	codeInvalidOffset:       "invalid offset",
	codeInvalidSize:         "invalid size",
	codeInvalidUnique:       "invalid unique %s",
	codeInvalidOptions:      "invalid options",
	codeOperationUnsupport:  "operation unsupported",
	codeForeignKeysUnresolv: "foreign keys unresolved",
	codeReferencedByOthers:  "referenced by others",
}

// Error is an Admin API error: the HTTP status and the JSON body Kong sends
// for it. Cause, when set, is logged and never shown to the client.
type Error struct {
	Status int
	Body   any
	Cause  error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("admin: %d: %v", e.Status, e.Cause)
	}
	return fmt.Sprintf("admin: %d", e.Status)
}

func (e *Error) Unwrap() error { return e.Cause }

// daoError is the body of Kong's DAO errors.
type daoError struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
	Fields  any    `json:"fields,omitempty"`
	Options any    `json:"options,omitempty"`
}

func message(status int, msg string) *Error {
	return &Error{Status: status, Body: map[string]string{"message": msg}}
}

func errNotFound() *Error         { return message(http.StatusNotFound, "Not found") }
func errMethodNotAllowed() *Error { return message(http.StatusMethodNotAllowed, "Method not allowed") }

func errDAO(status, code int, msg string, fields any) *Error {
	return &Error{Status: status, Body: &daoError{Code: code, Name: codeNames[code], Message: msg, Fields: fields}}
}

// errInvalidUnique is Kong's invalid_unique: an endpoint key (or tag) in a
// URL that its field's validation refuses (code 10, HTTP 400).
func errInvalidUnique(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Body: &daoError{Code: codeInvalidUnique,
		Name: fmt.Sprintf(codeNames[codeInvalidUnique], field), Message: msg}}
}

func errSchema(se *model.SchemaError) *Error {
	return errDAO(http.StatusBadRequest, codeSchemaViolation, se.Error(), se.Fields)
}

// errSchemaFields builds a schema violation from a field -> message map.
func errSchemaFields(fields map[string]any) *Error {
	return errSchema(&model.SchemaError{Fields: fields})
}

func errInvalidOptions(opts map[string]string) *Error {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := make([]string, 0, len(keys))
	for _, k := range keys {
		buf = append(buf, k+": "+opts[k])
	}
	msg := "invalid option (" + buf[0] + ")"
	if len(buf) > 1 {
		msg = fmt.Sprintf("%d option violations (%s)", len(buf), strings.Join(buf, "; "))
	}
	return &Error{Status: http.StatusBadRequest, Body: &daoError{Code: codeInvalidOptions,
		Name: codeNames[codeInvalidOptions], Message: msg, Options: opts}}
}

// errUnsupported is Kong's 405 for entity writes without a database.
func errUnsupported(verb, entity, byField string) *Error {
	msg := fmt.Sprintf("cannot %s '%s' entities when not using a database", verb, entity)
	if byField != "" {
		msg = fmt.Sprintf("cannot %s '%s' entities by '%s' when not using a database", verb, entity, byField)
	}
	return &Error{Status: http.StatusMethodNotAllowed, Body: &daoError{Code: codeOperationUnsupport,
		Name: codeNames[codeOperationUnsupport], Message: msg}}
}

// unresolved is one foreign key given by endpoint key that names nothing.
type unresolved struct {
	field, key, value, parent string
}

func errUnresolved(list []unresolved) *Error {
	sort.Slice(list, func(i, j int) bool { return list[i].field < list[j].field })
	fields := map[string]any{}
	buf := make([]string, 0, len(list))
	for _, u := range list {
		m := fmt.Sprintf("the foreign key cannot be resolved with '{%s=%q}' for an existing '%s' entity", u.key, u.value, u.parent)
		fields[u.field] = map[string]any{u.key: m}
		buf = append(buf, u.field+"."+u.key+": "+m)
	}
	msg := "foreign key unresolved (" + buf[0] + ")"
	if len(buf) > 1 {
		msg = fmt.Sprintf("%d foreign keys unresolved (%s)", len(buf), strings.Join(buf, "; "))
	}
	return errDAO(http.StatusBadRequest, codeForeignKeysUnresolv, msg, fields)
}

// toError maps any error from a handler, the model or a store to the
// response Kong gives for it.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var se *model.SchemaError
	if errors.As(err, &se) {
		return errSchema(se)
	}
	var ue *store.UniqueError
	if errors.As(err, &ue) {
		return errDAO(http.StatusConflict, codeUnique, ue.Error(), uniqueFields(ue))
	}
	var fe *store.ForeignKeyError
	if errors.As(err, &fe) {
		if fe.ReferencedBy != "" {
			return errDAO(http.StatusBadRequest, codeForeignKey,
				fmt.Sprintf("an existing '%s' entity references this '%s' entity", fe.ReferencedBy, fe.Entity),
				map[string]any{"@referenced_by": fe.ReferencedBy})
		}
		return errDAO(http.StatusBadRequest, codeForeignKey,
			fmt.Sprintf("the foreign key '{id=%q}' does not reference an existing '%s' entity.", fe.ParentID, fe.ParentEntity),
			map[string]any{fe.Field: map[string]any{"id": fe.ParentID}})
	}
	var re *store.ReferencedError
	if errors.As(err, &re) {
		// kong/db/dao/ca_certificates.lua: referenced_by_others, 400
		// (kong/api/endpoints.lua ERRORS_HTTP_CODES).
		return errDAO(http.StatusBadRequest, codeReferencedByOthers, re.Error(), nil)
	}
	var oe *store.OffsetError
	if errors.As(err, &oe) {
		return errDAO(http.StatusBadRequest, codeInvalidOffset, oe.Error(), nil)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound()
	case errors.Is(err, store.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Cause: err,
			Body: map[string]string{"message": "database unavailable: the configuration cannot be changed right now; the gateway keeps serving its last configuration"}}
	case errors.Is(err, store.ErrInvalidOffset):
		return errDAO(http.StatusBadRequest, codeInvalidOffset, "invalid offset", nil)
	}
	return &Error{Status: http.StatusInternalServerError, Cause: err,
		Body: map[string]string{"message": "An unexpected error occurred"}}
}

// errPrimaryKey is Kong's answer to an insert of rec reusing an existing
// id (kong/db/strategies/postgres/init.lua, toerror): PostgreSQL names the
// violated constraint "<table>_pkey", and Kong reports a unique violation
// on the first unique field whose name occurs in that text (the "key" of
// key-auth and jwt credentials), else a primary key violation, code 3,
// HTTP 400.
func errPrimaryKey(entity string, rec store.Record) *Error {
	if sc, ok := model.Lookup(entity); ok {
		for _, f := range sc.Fields {
			if f.Unique && strings.Contains(entity+"_pkey", f.Name) {
				ue := &store.UniqueError{Entity: entity, Field: f.Name, Value: rec[f.Name]}
				return errDAO(http.StatusConflict, codeUnique, ue.Error(), map[string]any{f.Name: rec[f.Name]})
			}
		}
	}
	id := idOf(rec)
	return errDAO(http.StatusBadRequest, codePrimaryKey,
		fmt.Sprintf("primary key violation on key '{id=%q}'", id), map[string]any{"id": id})
}

// uniqueFields is the "fields" of a unique violation: the clashing field
// and value, or every component of a composite (cache) key when the store
// reports one.
func uniqueFields(ue *store.UniqueError) map[string]any {
	// Read the composite key generically, so that this keeps compiling
	// whatever optional fields the store's error carries.
	var generic map[string]any
	if b, err := json.Marshal(ue); err == nil {
		_ = json.Unmarshal(b, &generic)
	}
	if vals, ok := generic["Values"].(map[string]any); ok && len(vals) > 0 {
		return vals
	}
	return map[string]any{ue.Field: ue.Value}
}
