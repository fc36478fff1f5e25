package plugin

import (
	"encoding/json"
	"strings"
)

// Serialize modes of SetSerializeValue (Kong's kong.log.set_serialize_value
// options.mode).
const (
	SerializeSet     = "set"     // always
	SerializeAdd     = "add"     // only where the key is absent
	SerializeReplace = "replace" // only where the key is present
)

// serializeEdit is one set_serialize_value call.
type serializeEdit struct {
	path  []string
	value any // nil removes the key
	mode  string
}

const ctxSerialize = "plugin.serialize"

// SetSerializeValue changes what the log plugins serialize for this request
// (Kong's kong.log.set_serialize_value): key is a dotted path into the log
// entry ("request.headers.authorization", "my_field"), value a JSON-like
// value (nil removes the key), mode SerializeSet, SerializeAdd or
// SerializeReplace. Edits apply in order, to every log plugin's entry.
func (c *Ctx) SetSerializeValue(key string, value any, mode string) {
	if key == "" {
		return
	}
	v, _ := c.Get(ctxSerialize)
	edits, _ := v.([]serializeEdit)
	c.Set(ctxSerialize, append(edits, serializeEdit{path: strings.Split(key, "."), value: value, mode: mode}))
}

// logEntryJSON is LogEntry's fields without its MarshalJSON.
type logEntryJSON LogEntry

// MarshalJSON encodes the entry with the request's SetSerializeValue edits
// applied.
func (e *LogEntry) MarshalJSON() ([]byte, error) {
	data, err := json.Marshal((*logEntryJSON)(e))
	if err != nil || len(e.edits) == 0 {
		return data, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for _, ed := range e.edits {
		applyEdit(m, ed)
	}
	return json.Marshal(m)
}

// Map returns the entry as a generic JSON object, edits applied (Kong's
// kong.log.serialize()).
func (e *LogEntry) Map() map[string]any {
	data, err := e.MarshalJSON()
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

func applyEdit(m map[string]any, ed serializeEdit) {
	for _, k := range ed.path[:len(ed.path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			if ed.value == nil || ed.mode == SerializeReplace {
				return
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	last := ed.path[len(ed.path)-1]
	_, present := m[last]
	switch {
	case ed.mode == SerializeAdd && present, ed.mode == SerializeReplace && !present:
		return
	case ed.value == nil:
		delete(m, last)
	default:
		m[last] = ed.value
	}
}
