package declarative

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrorCode and ErrorName are Kong's code and name for an invalid
// declarative configuration (kong/db/errors.lua, DECLARATIVE_CONFIG).
const (
	ErrorCode = 14
	ErrorName = "invalid declarative configuration"
)

// SyntaxError reports input that is not a YAML or JSON object at all. Kong
// answers it with a plain 400 {"message": ...}, not a code-14 body.
type SyntaxError struct {
	Msg string
}

func (e *SyntaxError) Error() string { return e.Msg }

// Error is an invalid declarative configuration: Kong's code-14 error. It
// carries the error tree (Fields), the input it was found in (for
// flattening), and one human line per problem.
type Error struct {
	tree     *node
	input    map[string]any
	problems []string
}

// Error renders the problems for people, each naming the entity (type,
// position, name, line) and the field.
func (e *Error) Error() string {
	return "invalid declarative configuration: " + strings.Join(e.problems, "; ")
}

// Problems returns one human-readable line per problem, in file order.
func (e *Error) Problems() []string { return append([]string(nil), e.problems...) }

// Fields returns Kong's error tree as generic JSON values: entity type ->
// (array by 1-based position | object by name/id) -> field errors.
func (e *Error) Fields() map[string]any {
	var out map[string]any
	b, _ := json.Marshal(e.tree)
	_ = json.Unmarshal(b, &out)
	return out
}

// ErrorBody is the JSON body Kong returns for code 14. FlattenedErrors is
// only set when flattening was asked for (POST /config?flatten_errors=1).
type ErrorBody struct {
	Code            int         `json:"code"`
	Name            string      `json:"name"`
	Message         string      `json:"message"`
	Fields          any         `json:"fields"`
	FlattenedErrors []FlatError `json:"flattened_errors,omitempty"`
}

// FlatError is one element of Kong's flattened_errors: the errors of one
// entity, nested children hoisted to the top level.
type FlatError struct {
	EntityType string           `json:"entity_type"`
	EntityName string           `json:"entity_name,omitempty"`
	EntityID   string           `json:"entity_id,omitempty"`
	EntityTags []string         `json:"entity_tags,omitempty"`
	Entity     map[string]any   `json:"entity"`
	Errors     []FlatEntryError `json:"errors"`
}

// FlatEntryError is one error of a FlatError: type "field" (with the dotted
// field path, array positions 1-based) or "entity".
type FlatEntryError struct {
	Type    string `json:"type"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Body returns Kong's response body. With flatten, errors that belong to an
// entity at a known position move to FlattenedErrors and Fields keeps the
// rest (often empty), as Kong does.
func (e *Error) Body(flatten bool) *ErrorBody {
	if !flatten {
		return &ErrorBody{Code: ErrorCode, Name: ErrorName,
			Message: "declarative config is invalid: " + luaPretty(e.tree), Fields: e.tree}
	}
	rest, flat := e.flatten()
	if flat == nil {
		flat = []FlatError{}
	}
	return &ErrorBody{Code: ErrorCode, Name: ErrorName,
		Message: "declarative config is invalid: " + luaPretty(rest), Fields: rest, FlattenedErrors: flat}
}

// Flattened returns Kong's flattened_errors for this error.
func (e *Error) Flattened() []FlatError {
	_, flat := e.flatten()
	return flat
}

// node is one table of Kong's error tree. Integer keys are 1-based array
// positions; values are string, []string or *node.
type node struct {
	ints map[int]any
	strs map[string]any
}

func newNode() *node { return &node{} }

func (n *node) empty() bool { return n == nil || len(n.ints)+len(n.strs) == 0 }

func (n *node) getInt(i int) any {
	if n.ints == nil {
		return nil
	}
	return n.ints[i]
}

func (n *node) setInt(i int, v any) {
	if n.ints == nil {
		n.ints = map[int]any{}
	}
	n.ints[i] = v
}

func (n *node) setStr(k string, v any) {
	if n.strs == nil {
		n.strs = map[string]any{}
	}
	n.strs[k] = v
}

// child returns the sub-table under key (int or string), creating it.
func (n *node) child(key any) *node {
	var cur any
	switch k := key.(type) {
	case int:
		cur = n.getInt(k)
	case string:
		cur = n.strs[k]
	}
	if c, ok := cur.(*node); ok {
		return c
	}
	c := newNode()
	// a message standing for the whole entity becomes an entity error
	switch m := cur.(type) {
	case string:
		c.setStr("@entity", []string{m})
	case []string:
		c.setStr("@entity", append([]string(nil), m...))
	}
	switch k := key.(type) {
	case int:
		n.setInt(k, c)
	case string:
		n.setStr(k, c)
	}
	return c
}

func (n *node) sortedInts() []int {
	ks := make([]int, 0, len(n.ints))
	for k := range n.ints {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}

func (n *node) sortedStrs() []string {
	ks := make([]string, 0, len(n.strs))
	for k := range n.strs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// MarshalJSON renders the table as cjson does: a JSON array (null in the
// holes) when all keys are positions, an object otherwise.
func (n *node) MarshalJSON() ([]byte, error) {
	if n == nil {
		return []byte("{}"), nil
	}
	if len(n.strs) == 0 && len(n.ints) > 0 {
		ks := n.sortedInts()
		arr := make([]any, ks[len(ks)-1])
		for _, k := range ks {
			if k >= 1 {
				arr[k-1] = n.ints[k]
			}
		}
		return json.Marshal(arr)
	}
	obj := make(map[string]any, len(n.ints)+len(n.strs))
	for k, v := range n.ints {
		obj[strconv.Itoa(k)] = v
	}
	for k, v := range n.strs {
		obj[k] = v
	}
	return json.Marshal(obj)
}

// fromSchemaFields converts model.SchemaError.Fields into tree values.
// Keys that are positive integers become array positions.
func fromSchemaFields(v any) any {
	switch t := v.(type) {
	case map[string]any:
		n := newNode()
		for k, e := range t {
			if i, err := strconv.Atoi(k); err == nil && i > 0 && strconv.Itoa(i) == k {
				n.setInt(i, fromSchemaFields(e))
			} else {
				n.setStr(k, fromSchemaFields(e))
			}
		}
		return n
	case []any:
		n := newNode()
		for i, e := range t {
			if e != nil {
				n.setInt(i+1, fromSchemaFields(e))
			}
		}
		return n
	case []string:
		return append([]string(nil), t...)
	case string:
		return t
	case nil:
		return nil
	default:
		return fmt.Sprint(t)
	}
}

// luaPretty renders a tree like Penlight's pretty.write(t, ""), which Kong
// uses for the message: {services={{name="expected a string"}}}.
func luaPretty(v any) string {
	var b strings.Builder
	writeLua(&b, v)
	return b.String()
}

func writeLua(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("{}")
	case string:
		b.WriteString(luaQuote(t))
	case []string:
		b.WriteByte('{')
		for i, s := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(luaQuote(s))
		}
		b.WriteByte('}')
	case *node:
		b.WriteByte('{')
		first := true
		sep := func() {
			if !first {
				b.WriteByte(',')
			}
			first = false
		}
		// array part: 1..n without holes, written positionally
		seq := 0
		for {
			e, ok := t.ints[seq+1]
			if !ok || e == nil {
				break
			}
			seq++
			sep()
			writeLua(b, e)
		}
		for _, k := range t.sortedInts() {
			if k <= seq {
				continue
			}
			sep()
			fmt.Fprintf(b, "[%d]=", k)
			writeLua(b, t.ints[k])
		}
		for _, k := range t.sortedStrs() {
			sep()
			if isLuaIdent(k) {
				b.WriteString(k)
			} else {
				b.WriteString("[" + luaQuote(k) + "]")
			}
			b.WriteByte('=')
			writeLua(b, t.strs[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString(luaQuote(fmt.Sprint(t)))
	}
}

func isLuaIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString("\\n")
		case '\r':
			b.WriteString("\\r")
		case 0:
			b.WriteString("\\0")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
