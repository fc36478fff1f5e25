package model

import (
	"encoding/json"
	"reflect"
	"testing"
)

func jsonEqual(t *testing.T, what string, got any, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(toJSON(got)), &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want literal: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s\n got %s\nwant %s", what, toJSON(got), want)
	}
}

func TestServiceDefaults(t *testing.T) {
	out, err := mustLookup(t, "services").Process(map[string]any{"host": "example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "service record", out, `{
		"id":null,"created_at":null,"updated_at":null,"name":null,"retries":5,"protocol":"http",
		"host":"example.com","port":80,"path":null,"connect_timeout":60000,"write_timeout":60000,
		"read_timeout":60000,"tags":null,"client_certificate":null,"tls_verify":null,
		"tls_verify_depth":null,"ca_certificates":null,"enabled":true}`)
}

func TestRouteDefaults(t *testing.T) {
	out, err := mustLookup(t, "routes").Process(map[string]any{"paths": []any{"/"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "route record", out, `{
		"id":null,"created_at":null,"updated_at":null,"name":null,"protocols":["http","https"],
		"https_redirect_status_code":426,"strip_path":true,"preserve_host":false,
		"request_buffering":true,"response_buffering":true,"tags":null,"service":null,"snis":null,
		"sources":null,"destinations":null,"methods":null,"hosts":null,"paths":["/"],"headers":null,
		"regex_priority":0,"path_handling":"v0"}`)
}

// upstreamHealthDefaults is KONG-COMPAT §7 written out.
const upstreamHealthDefaults = `{
	"active":{"type":"http","timeout":1,"concurrency":10,"http_path":"/","https_sni":null,
		"https_verify_certificate":true,"headers":null,
		"healthy":{"interval":0,"http_statuses":[200,302],"successes":0},
		"unhealthy":{"interval":0,"http_statuses":[429,404,500,501,502,503,504,505],
			"tcp_failures":0,"timeouts":0,"http_failures":0}},
	"passive":{"type":"http",
		"healthy":{"http_statuses":[200,201,202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308],"successes":0},
		"unhealthy":{"http_statuses":[429,500,503],"tcp_failures":0,"timeouts":0,"http_failures":0}},
	"threshold":0}`

func TestUpstreamDefaults(t *testing.T) {
	out, err := mustLookup(t, "upstreams").Process(map[string]any{"name": "backend"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "healthchecks", out["healthchecks"], upstreamHealthDefaults)
	for k, want := range map[string]any{"algorithm": "round-robin", "hash_on": "none", "hash_fallback": "none",
		"hash_on_cookie_path": "/", "slots": 10000, "use_srv_name": false} {
		if out[k] != want {
			t.Errorf("%s = %v; want %v", k, out[k], want)
		}
	}

	// A partial healthchecks record gets the remaining defaults.
	out, err = mustLookup(t, "upstreams").Process(decodeJSON(t,
		`{"name":"b","healthchecks":{"active":{"type":"tcp","healthy":{"interval":5}}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := out["healthchecks"].(map[string]any)
	active := hc["active"].(map[string]any)
	healthy := active["healthy"].(map[string]any)
	if active["type"] != "tcp" || healthy["interval"] != 5.0 || active["concurrency"] != 10 {
		t.Errorf("active = %s; want type tcp, interval 5 and defaults", toJSON(active))
	}
	jsonEqual(t, "healthy.http_statuses", healthy["http_statuses"], `[200,302]`)
	jsonEqual(t, "passive", hc["passive"], `{"type":"http",
		"healthy":{"http_statuses":[200,201,202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308],"successes":0},
		"unhealthy":{"http_statuses":[429,500,503],"tcp_failures":0,"timeouts":0,"http_failures":0}}`)
}

func TestDefaultsAreNotShared(t *testing.T) {
	s := mustLookup(t, "upstreams")
	a, _ := s.Process(map[string]any{"name": "a"}, nil)
	a["healthchecks"].(map[string]any)["active"].(map[string]any)["healthy"].(map[string]any)["http_statuses"].([]any)[0] = 999
	b, _ := s.Process(map[string]any{"name": "b"}, nil)
	got := b["healthchecks"].(map[string]any)["active"].(map[string]any)["healthy"].(map[string]any)["http_statuses"].([]any)[0]
	if got != 200 {
		t.Errorf("modifying one record changed another's default: got %v; want 200", got)
	}
}

func TestNullHandling(t *testing.T) {
	s := mustLookup(t, "services")
	out, err := s.Process(map[string]any{"host": "a", "name": nil, "retries": nil, "tags": nil}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Explicit null on an optional field stays null, even with a default.
	for _, k := range []string{"name", "retries", "tags"} {
		if v, ok := out[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v); want explicit null", k, v, ok)
		}
	}
	_, err = s.Process(map[string]any{"host": "a", "protocol": nil}, nil)
	if err == nil || err.Fields["protocol"] != "required field missing" {
		t.Errorf("null protocol: %v; want required field missing", err)
	}
}

func TestInputNotModified(t *testing.T) {
	in := decodeJSON(t, `{"url":"http://a.com/x","tags":["a","a"]}`)
	before := toJSON(in)
	if _, err := mustLookup(t, "services").Process(in, nil); err != nil {
		t.Fatal(err)
	}
	if after := toJSON(in); after != before {
		t.Errorf("input modified: %s -> %s", before, after)
	}
}

func TestCoercion(t *testing.T) {
	s := mustLookup(t, "services")
	// JSON numbers (float64), YAML ints (int) and int64 are integers.
	for _, v := range []any{8080.0, 8080, int64(8080)} {
		out, err := s.Process(map[string]any{"host": "a", "port": v}, nil)
		if err != nil {
			t.Errorf("port %T(%v): %v", v, v, err)
			continue
		}
		if out["port"] != 8080 {
			t.Errorf("port %T(%v) -> %T(%v); want int 8080", v, v, out["port"], out["port"])
		}
	}
	for _, v := range []any{8080.5, "8080", true} {
		_, err := s.Process(map[string]any{"host": "a", "port": v}, nil)
		if err == nil || err.Fields["port"] != "expected an integer" {
			t.Errorf("port %T(%v): %v; want expected an integer", v, v, err)
		}
	}
	// Go callers may pass typed slices and maps.
	out, err := mustLookup(t, "routes").Process(map[string]any{
		"paths": []string{"/a"}, "headers": map[string][]string{"x-a": {"1"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "typed input", map[string]any{"paths": out["paths"], "headers": out["headers"]},
		`{"paths":["/a"],"headers":{"x-a":["1"]}}`)
}

func TestRoundTripRoute(t *testing.T) {
	in := decodeJSON(t, `{"id":"`+uuid1+`","created_at":1700000000,"updated_at":1700000001,"name":"r1",
		"protocols":["https"],"methods":["GET"],"hosts":["a.com"],"paths":["/x"],
		"headers":{"x-v":["1","2"]},"regex_priority":3,"strip_path":false,"service":{"id":"`+uuid2+`"},
		"snis":["a.com"],"tags":["t1"]}`)
	out, err := mustLookup(t, "routes").Process(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	var r Route
	if err := Decode(out, &r); err != nil {
		t.Fatal(err)
	}
	name := "r1"
	want := Route{ID: uuid1, CreatedAt: 1700000000, UpdatedAt: 1700000001, Name: &name,
		Protocols: []string{"https"}, Methods: []string{"GET"}, Hosts: []string{"a.com"}, Paths: []string{"/x"},
		Headers: map[string][]string{"x-v": {"1", "2"}}, HTTPSRedirectStatusCode: 426, RegexPriority: 3,
		StripPath: false, PathHandling: "v0", PreserveHost: false, RequestBuffering: true, ResponseBuffering: true,
		SNIs: []string{"a.com"}, Tags: []string{"t1"}, Service: &ForeignKey{ID: uuid2}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("decoded route\n got %+v\nwant %+v", r, want)
	}
}

func TestRoundTripStreamRouteAndService(t *testing.T) {
	out, err := mustLookup(t, "routes").Process(decodeJSON(t,
		`{"protocols":["tcp"],"sources":[{"ip":"10.0.0.0/8"}],"destinations":[{"port":443}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var r Route
	if err := Decode(out, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Sources) != 1 || r.Sources[0].IP == nil || *r.Sources[0].IP != "10.0.0.0/8" || r.Sources[0].Port != nil {
		t.Errorf("sources = %+v", r.Sources)
	}
	if len(r.Destinations) != 1 || r.Destinations[0].Port == nil || *r.Destinations[0].Port != 443 {
		t.Errorf("destinations = %+v", r.Destinations)
	}

	out, err = mustLookup(t, "services").Process(decodeJSON(t, `{"url":"https://b.com:8443/p","tls_verify":false}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var s Service
	if err := Decode(out, &s); err != nil {
		t.Fatal(err)
	}
	if s.Protocol != "https" || s.Host != "b.com" || s.Port != 8443 || s.Path == nil || *s.Path != "/p" ||
		s.TLSVerify == nil || *s.TLSVerify || s.Retries != 5 || !s.Enabled || s.ConnectTimeout != 60000 {
		t.Errorf("decoded service %+v", s)
	}
}

func TestRoundTripUpstream(t *testing.T) {
	out, err := mustLookup(t, "upstreams").Process(map[string]any{"name": "u"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var u Upstream
	if err := Decode(out, &u); err != nil {
		t.Fatal(err)
	}
	h := u.Healthchecks
	if h.Active.Type != "http" || h.Active.Timeout != 1 || h.Active.Concurrency != 10 || h.Active.HTTPPath != "/" ||
		!h.Active.HTTPSVerifyCertificate || !reflect.DeepEqual(h.Active.Healthy.HTTPStatuses, []int{200, 302}) ||
		len(h.Passive.Healthy.HTTPStatuses) != 19 || !reflect.DeepEqual(h.Passive.Unhealthy.HTTPStatuses, []int{429, 500, 503}) {
		t.Errorf("decoded healthchecks %+v", h)
	}
	if u.Slots != 10000 || u.Algorithm != "round-robin" || u.HashOnCookiePath != "/" {
		t.Errorf("decoded upstream %+v", u)
	}
}
