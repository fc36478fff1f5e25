package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineIndex remembers the line of every mapping read from YAML, keyed by the
// map's identity, so errors can point into the file.
type lineIndex map[uintptr]int

func (li lineIndex) line(m map[string]any) int {
	if li == nil || m == nil {
		return 0
	}
	return li[reflect.ValueOf(m).Pointer()]
}

// decodeInput reads YAML or JSON into generic values: map[string]any,
// []any, string, bool, int, float64 and nil. JSON (a document starting with
// '{') takes the faster encoding/json path.
func decodeInput(data []byte) (map[string]any, lineIndex, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if v, err := decodeJSON(trimmed); err == nil {
			return v, nil, nil
		}
		// Not valid JSON: YAML flow mappings also start with '{'.
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, errors.New("failed parsing declarative configuration: expected an object")
		}
		return nil, nil, fmt.Errorf("failed parsing declarative configuration: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, fmt.Errorf("failed parsing declarative configuration: line %d: more than one YAML document", extra.Line)
	}
	li := lineIndex{}
	c := &converter{lines: li, budget: 8*len(data) + 1024, release: !hasAlias(&doc)}
	v, err := c.convert(&doc, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("failed parsing declarative configuration: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, errors.New("failed parsing declarative configuration: expected an object")
	}
	return m, li, nil
}

func decodeJSON(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON document")
	}
	m, ok := normalizeJSON(v).(map[string]any)
	if !ok {
		return nil, errors.New("expected an object")
	}
	return m, nil
}

// normalizeJSON turns json.Number into int (when integral) or float64.
func normalizeJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeJSON(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeJSON(e)
		}
		return t
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return int(i)
		}
		f, _ := strconv.ParseFloat(string(t), 64)
		return f
	}
	return v
}

type converter struct {
	lines  lineIndex
	budget int // nodes left to convert; bounds alias expansion
	// release drops each YAML node from its parent once converted, so that
	// the node tree shrinks while the values grow (a 10 000-route file's
	// nodes weigh about twice its values). Only without aliases: an alias
	// may point at any node converted before.
	release bool
}

// hasAlias reports whether the document uses an alias anywhere.
func hasAlias(root *yaml.Node) bool {
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil {
			continue
		}
		if n.Kind == yaml.AliasNode {
			return true
		}
		stack = append(stack, n.Content...)
	}
	return false
}

const maxDepth = 200

func (c *converter) convert(n *yaml.Node, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: document nested too deeply", n.Line)
	}
	c.budget--
	if c.budget < 0 {
		return nil, fmt.Errorf("line %d: document too large after alias expansion", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		return c.convert(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			v, err := c.convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if c.release {
				n.Content[i] = nil
			}
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		c.lines[reflect.ValueOf(out).Pointer()] = n.Line
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, vn)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be strings", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: mapping key %q already defined", k.Line, k.Value)
			}
			v, err := c.convert(vn, depth+1)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
			if c.release {
				n.Content[i], n.Content[i+1] = nil, nil
			}
		}
		for _, mn := range merges {
			if err := c.merge(out, mn, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// merge applies a YAML merge key (<<): keys already set win.
func (c *converter) merge(dst map[string]any, n *yaml.Node, depth int) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	var srcs []*yaml.Node
	switch n.Kind {
	case yaml.MappingNode:
		srcs = []*yaml.Node{n}
	case yaml.SequenceNode:
		srcs = n.Content
	default:
		return fmt.Errorf("line %d: merge value must be a mapping", n.Line)
	}
	for _, s := range srcs {
		v, err := c.convert(s, depth+1)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("line %d: merge value must be a mapping", s.Line)
		}
		for k, e := range m {
			if _, set := dst[k]; !set {
				dst[k] = e
			}
		}
	}
	return nil
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!str":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return b, nil
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return int(i), nil
		}
		var i int64
		if err := n.Decode(&i); err == nil {
			return int(i), nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: invalid integer %q", n.Line, n.Value)
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: invalid number %q", n.Line, n.Value)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return f, nil
		}
		return f, nil
	default:
		// timestamps, binary and custom tags are kept as their text
		return n.Value, nil
	}
}

// streamJSON reads a JSON configuration without building the generic tree
// of the whole file: the top-level values other than entity lists are
// decoded as decodeJSON would, and every entity list is kept as the text
// of its elements (slices of data), each decoded when it is visited. ok is
// false when data is not a well-formed JSON object with distinct
// top-level keys and entity lists that are arrays or null; the caller
// then takes the decodeInput path, which reports the error (or reads the
// text as YAML). valid says data is known to be valid JSON.
func streamJSON(data []byte, valid bool) (top map[string]any, lists map[string][]json.RawMessage, ok bool) {
	if !valid && !json.Valid(data) {
		return nil, nil, false
	}
	members, ok := SplitObject(data)
	if !ok {
		return nil, nil, false
	}
	top = make(map[string]any, len(members))
	lists = map[string][]json.RawMessage{}
	for _, m := range members {
		if _, dup := top[m.Key]; dup {
			return nil, nil, false
		}
		if _, isKind := kindByName[m.Key]; isKind {
			if string(m.Value) == "null" {
				top[m.Key] = nil
				continue
			}
			elems, ok := SplitArray(m.Value)
			if !ok {
				return nil, nil, false // not an array: the decodeInput path reports it
			}
			list := make([]json.RawMessage, len(elems))
			for i, e := range elems {
				list[i] = e
			}
			top[m.Key] = []any(nil) // streamed: see lists
			lists[m.Key] = list
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(m.Value))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		top[m.Key] = normalizeJSON(v)
	}
	return top, lists, true
}

// elementDecoder decodes the entities of a streamed list one at a time, as
// decodeJSON would have decoded them as part of the whole file, with one
// json.Decoder for all of them (a decoder per entity cost more garbage
// than the entities).
type elementDecoder struct {
	r   bytes.Reader
	dec *json.Decoder
}

func (d *elementDecoder) decode(src json.RawMessage) (any, error) {
	d.r.Reset(src)
	if d.dec == nil {
		d.dec = json.NewDecoder(&d.r)
		d.dec.UseNumber()
	}
	var v any
	if err := d.dec.Decode(&v); err != nil {
		d.dec = nil // its state is unknown: start afresh
		return nil, err
	}
	return normalizeJSON(v), nil
}
