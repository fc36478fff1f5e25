package model

import "testing"

func TestInfer(t *testing.T) {
	s := mustLookup(t, "services")
	in := map[string]any{"host": "a.com", "port": "8080", "retries": "x", "tls_verify": "true",
		"ca_certificates": uuid1, "tags": map[string]any{"2": "b", "1": "a"}, "name": "", "extra": "1"}
	// kong/api/arguments.lua infer_value: "" is null for any known field;
	// unknown keys are left alone.
	got := s.Infer(in, nil)
	jsonEqual(t, "inferred", got, `{"host":"a.com","port":8080,"retries":"x","tls_verify":true,
		"ca_certificates":["`+uuid1+`"],"tags":["a","b"],"name":null,"extra":"1"}`)
	if in["port"] != "8080" {
		t.Error("Infer modified its input")
	}

	r := mustLookup(t, "routes").Infer(map[string]any{"paths": "/a", "regex_priority": "5", "strip_path": "false",
		"sources": []any{map[string]any{"ip": "1.2.3.4", "port": "80"}}}, nil)
	jsonEqual(t, "route", r, `{"paths":["/a"],"regex_priority":5,"strip_path":false,"sources":[{"ip":"1.2.3.4","port":80}]}`)

	ps := &Schema{Name: "p", Fields: []*Field{{Name: "minute", Type: TypeNumber}}}
	opts := &ProcessOptions{Plugins: func(string) (*Schema, bool) { return ps, true }}
	p := mustLookup(t, "plugins").Infer(map[string]any{"name": "p", "config": map[string]any{"minute": "2.5"}, "enabled": "false"}, opts)
	jsonEqual(t, "plugin", p, `{"name":"p","config":{"minute":2.5},"enabled":false}`)
	if _, err := mustLookup(t, "plugins").Process(p, opts); err != nil {
		t.Errorf("inferred plugin rejected: %v", err)
	}
}
