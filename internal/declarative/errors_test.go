package declarative

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseErr(t *testing.T, src string) *Error {
	t.Helper()
	_, err := Parse([]byte(src), testOpts())
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("got %T %v; want *Error", err, err)
	}
	return de
}

func TestErrorBodyShape(t *testing.T) {
	de := parseErr(t, `_format_version: "3.0"
services:
- name: s
  host: h
  routes:
  - name: ok
    paths: [/]
  - name: r
    service: x
    paths: [/]
    tags: [t1]
`)
	var body map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, de.Body(false))), &body); err != nil {
		t.Fatal(err)
	}
	if body["code"] != float64(14) || body["name"] != "invalid declarative configuration" {
		t.Errorf("code/name: got %v/%v; want 14/invalid declarative configuration", body["code"], body["name"])
	}
	wantMsg := `declarative config is invalid: {services={{routes={[2]={service="value must be null"}}}}}`
	if body["message"] != wantMsg {
		t.Errorf("message: got %q; want %q", body["message"], wantMsg)
	}
	wantFields := `{"services":[{"routes":[null,{"service":"value must be null"}]}]}`
	if got := mustJSON(t, body["fields"]); got != wantFields {
		t.Errorf("fields: got %s; want %s", got, wantFields)
	}

	flat := de.Body(true)
	if got := mustJSON(t, flat.Fields); got != "{}" {
		t.Errorf("flattened body fields: got %s; want {}", got)
	}
	if flat.Message != "declarative config is invalid: {}" {
		t.Errorf("flattened body message: got %q", flat.Message)
	}
	if len(flat.FlattenedErrors) != 1 {
		t.Fatalf("flattened_errors: got %d; want 1: %s", len(flat.FlattenedErrors), mustJSON(t, flat.FlattenedErrors))
	}
	fe := flat.FlattenedErrors[0]
	want := `{"entity_type":"route","entity_name":"r","entity_tags":["t1"],"entity":{"name":"r","paths":["/"],"service":"x","tags":["t1"]},"errors":[{"type":"field","field":"service","message":"value must be null"}]}`
	if got := mustJSON(t, fe); got != want {
		t.Errorf("flattened entry:\n got %s\nwant %s", got, want)
	}
}

func TestFlattenedHoistsChildrenAndKeepsReferenceErrors(t *testing.T) {
	// Reference errors are keyed by name, not position: Kong leaves them in
	// fields when flattening.
	de := parseErr(t, `_format_version: "3.0"
routes:
- name: r
  service: nope
  paths: [/]
`)
	b := de.Body(true)
	if got := mustJSON(t, b.Fields); !strings.Contains(got, `"r":["invalid reference 'service: nope' (no such entry in 'services')"]`) {
		t.Errorf("fields: got %s; want the reference error kept", got)
	}
	if len(b.FlattenedErrors) != 0 {
		t.Errorf("flattened: got %s; want none", mustJSON(t, b.FlattenedErrors))
	}
	if !strings.HasPrefix(b.Message, `declarative config is invalid: {routes={r={"invalid reference`) {
		t.Errorf("message: got %q", b.Message)
	}

	// Nested children's errors are hoisted: the parent with a valid id gives
	// its key to the child.
	de = parseErr(t, `_format_version: "3.0"
services:
- name: s
  id: 33333333-3333-4333-8333-333333333333
  host: h
  plugins:
  - name: p
    service: s
`)
	flat := de.Flattened()
	if len(flat) != 1 {
		t.Fatalf("got %d flattened errors; want 1: %s", len(flat), mustJSON(t, flat))
	}
	if flat[0].EntityType != "plugin" {
		t.Errorf("entity_type: got %q; want plugin", flat[0].EntityType)
	}
	if got := mustJSON(t, flat[0].Entity["service"]); got != `"s"` {
		t.Errorf("entity.service: got %s; want the value as written", got)
	}
}

func TestLuaPretty(t *testing.T) {
	n := newNode()
	n.child("services").setInt(2, "expected a record")
	r := n.child("routes").child(1)
	r.setStr("@entity", []string{"a", `b "q"`})
	r.setStr("paths", newNode())
	r.strs["paths"].(*node).setInt(1, "bad")
	got := luaPretty(n)
	want := `{routes={{["@entity"]={"a","b \"q\""},paths={"bad"}}},services={[2]="expected a record"}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRepeatedUniqueValue(t *testing.T) {
	de := parseErr(t, `_format_version: "3.0"
consumers:
- username: a
  custom_id: x
- username: b
  custom_id: x
- username: c
  custom_id: x
`)
	got := mustJSON(t, de.Body(false).Fields)
	want := `{"consumers":[null,"uniqueness violation: 'consumers' entity with custom_id set to 'x' already declared","uniqueness violation: 'consumers' entity with custom_id set to 'x' already declared"]}`
	if got != want {
		t.Errorf("fields:\n got %s\nwant %s", got, want)
	}
	if n := len(de.Problems()); n != 2 {
		t.Errorf("problems: got %d; want 2: %v", n, de.Problems())
	}
}

func TestEntityErrorsAccumulate(t *testing.T) {
	l := &loader{tree: newNode()}
	it := &item{k: kindByName["services"], raw: map[string]any{"name": "s"}, index: 2}
	l.entityErr(it, "first", nil)
	l.fieldErr(it, "host", "bad")
	l.entityErr(it, "second", nil)
	l.entityErr(it, "third", nil)
	got := mustJSON(t, l.tree)
	want := `{"services":[null,{"@entity":["first","second","third"],"host":"bad"}]}`
	if got != want {
		t.Errorf("tree:\n got %s\nwant %s", got, want)
	}
	if len(l.problems) != 4 || l.problems[1] != `services[2] (name "s"): host: bad` {
		t.Errorf("problems: got %q", l.problems)
	}
}
