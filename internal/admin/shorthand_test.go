package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	_ "sluice/internal/plugin/opentelemetry"
	_ "sluice/internal/plugin/ratelimiting"
	"sluice/internal/store"
)

// TestPluginShorthandFields checks Kong 3.9's deprecated shorthand fields
// through the Admin API: rate-limiting's redis_host fills redis.host, is
// shown back with redis.host's value, can be patched alone, conflicts
// with a different redis.host in one body, and is described under the
// config record's shorthand_fields.
func TestPluginShorthandFields(t *testing.T) {
	c := newServer(t, nil)
	p := c.must(201, "POST", "/plugins", map[string]any{"name": "rate-limiting",
		"config": map[string]any{"minute": 10, "policy": "redis", "redis_host": "old.test", "redis_port": 6380}})
	cfg := p["config"].(map[string]any)
	redis := cfg["redis"].(map[string]any)
	if redis["host"] != "old.test" || redis["port"] != 6380.0 {
		t.Errorf("redis record after POST: %v; want host old.test, port 6380", redis)
	}
	if cfg["redis_host"] != "old.test" || cfg["redis_port"] != 6380.0 || cfg["redis_database"] != 0.0 {
		t.Errorf("shorthands in the answer: redis_host %v, redis_port %v, redis_database %v", cfg["redis_host"], cfg["redis_port"], cfg["redis_database"])
	}
	if _, ok := cfg["redis_username"]; !ok || cfg["redis_username"] != nil {
		t.Errorf("redis_username: %v (present %v); want null", cfg["redis_username"], ok)
	}
	id := p["id"].(string)

	// A PATCH of the shorthand alone replaces the stored value.
	got := c.must(200, "PATCH", "/plugins/"+id, map[string]any{"config": map[string]any{"redis_host": "new.test"}})
	cfg = got["config"].(map[string]any)
	if cfg["redis"].(map[string]any)["host"] != "new.test" || cfg["redis_host"] != "new.test" {
		t.Errorf("after PATCH redis_host: redis %v, redis_host %v; want new.test", cfg["redis"], cfg["redis_host"])
	}
	// Stored without the shorthand: a GET shows the same.
	if got := c.must(200, "GET", "/plugins/"+id, nil); got["config"].(map[string]any)["redis_port"] != 6380.0 {
		t.Errorf("GET: redis_port %v; want 6380", got["config"].(map[string]any)["redis_port"])
	}

	// Both forms with different values in one body are refused (3.8+);
	// the same value, or a null record field, is fine.
	r := c.do("POST", "/plugins", map[string]any{"name": "rate-limiting",
		"config": map[string]any{"minute": 10, "redis_host": "a.test", "redis": map[string]any{"host": "b.test"}}})
	if r.status != 400 || !strings.Contains(string(r.raw), `"redis_host":"both deprecated and new field are used but their values mismatch: redis_host = a.test vs redis.host = b.test"`) {
		t.Errorf("mismatch: %d %s", r.status, r.raw)
	}
	c.must(204, "DELETE", "/plugins/"+id, nil)
	p = c.must(201, "POST", "/plugins", map[string]any{"name": "rate-limiting",
		"config": map[string]any{"minute": 10, "redis_host": "a.test", "redis": map[string]any{"host": nil}}})
	if h := p["config"].(map[string]any)["redis"].(map[string]any)["host"]; h != "a.test" {
		t.Errorf("shorthand over a null field: redis.host %v; want a.test", h)
	}
	// The shorthand's own type is checked.
	r = c.do("POST", "/plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": 10, "redis_port": "x"}})
	if r.status != 400 || !strings.Contains(string(r.raw), `"redis_port":"expected an integer"`) {
		t.Errorf("bad redis_port: %d %s", r.status, r.raw)
	}

	// The schema: shorthands are not fields; each has its deprecation.
	var schema struct {
		Fields []map[string]json.RawMessage
	}
	if err := json.Unmarshal(c.do("GET", "/schemas/plugins/rate-limiting", nil).raw, &schema); err != nil {
		t.Fatal(err)
	}
	var config struct {
		Fields     []map[string]json.RawMessage `json:"fields"`
		Shorthands []map[string]struct {
			Type        string `json:"type"`
			Deprecation struct {
				Message          string `json:"message"`
				RemovalInVersion string `json:"removal_in_version"`
				ReplacedWith     []struct {
					Path []string `json:"path"`
				} `json:"replaced_with"`
			} `json:"deprecation"`
		} `json:"shorthand_fields"`
	}
	for _, f := range schema.Fields {
		if raw, ok := f["config"]; ok {
			if err := json.Unmarshal(raw, &config); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range config.Fields {
		if _, ok := f["redis_host"]; ok {
			t.Error("redis_host is listed among the config's fields")
		}
	}
	if len(config.Shorthands) != 9 {
		t.Fatalf("%d shorthand_fields; want 9", len(config.Shorthands))
	}
	host := config.Shorthands[0]["redis_host"]
	if host.Type != "string" || host.Deprecation.Message != "rate-limiting: config.redis_host is deprecated, please use config.redis.host instead" ||
		host.Deprecation.RemovalInVersion != "4.0" || len(host.Deprecation.ReplacedWith) != 1 ||
		strings.Join(host.Deprecation.ReplacedWith[0].Path, ".") != "redis.host" {
		t.Errorf("redis_host shorthand: %+v", host)
	}
}

// TestPluginShorthandPatches: a PATCH of a shorthand alone replaces (or,
// with null, clears) what it stands for, including a shorthand without
// replaced_with (opentelemetry's endpoint); a config stored by an earlier
// sluice with the redis_* fields as plain fields can still be patched.
func TestPluginShorthandPatches(t *testing.T) {
	c := newServer(t, nil)
	p := c.must(201, "POST", "/plugins", map[string]any{"name": "opentelemetry",
		"config": map[string]any{"traces_endpoint": "http://old.test/v1/traces"}})
	got := c.must(200, "PATCH", "/plugins/"+p["id"].(string), map[string]any{"config": map[string]any{"endpoint": "http://new.test/v1/traces"}})
	if te := got["config"].(map[string]any)["traces_endpoint"]; te != "http://new.test/v1/traces" {
		t.Errorf("PATCH endpoint: traces_endpoint %v; want the new one", te)
	}
	rl := c.must(201, "POST", "/plugins", map[string]any{"name": "rate-limiting",
		"config": map[string]any{"minute": 10, "redis": map[string]any{"host": "h.test"}}})
	got = c.must(200, "PATCH", "/plugins/"+rl["id"].(string), map[string]any{"config": map[string]any{"redis_host": nil}})
	if h := got["config"].(map[string]any)["redis"].(map[string]any)["host"]; h != nil {
		t.Errorf("PATCH redis_host null: redis.host %v; want null", h)
	}
	c.must(204, "DELETE", "/plugins/"+rl["id"].(string), nil)

	// A config as an earlier sluice stored it: flat fields, record null.
	ctx := context.Background()
	old := store.Record{"id": "9c195c24-d0d8-4b00-9b8a-6587281e8289", "name": "rate-limiting", "enabled": true,
		"created_at": 1.0, "updated_at": 1.0, "protocols": []any{"grpc", "grpcs", "http", "https"},
		"route": nil, "service": nil, "consumer": nil, "tags": nil, "instance_name": nil,
		"config": map[string]any{"minute": 10.0, "policy": "redis", "limit_by": "consumer", "fault_tolerant": true,
			"hide_client_headers": false, "error_code": 429.0, "error_message": "API rate limit exceeded", "sync_rate": -1.0,
			"header_name": nil, "path": nil, "second": nil, "hour": nil, "day": nil, "month": nil, "year": nil,
			"redis": nil, "redis_host": "legacy.test", "redis_port": 6380.0, "redis_ssl": true}}
	if err := c.st.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "plugins", old) }); err != nil {
		t.Fatal(err)
	}
	got = c.must(200, "PATCH", "/plugins/"+old["id"].(string), map[string]any{"config": map[string]any{"minute": 20}})
	redis := got["config"].(map[string]any)["redis"].(map[string]any)
	if redis["host"] != "legacy.test" || redis["port"] != 6380.0 || redis["ssl"] != true {
		t.Errorf("PATCH of a legacy config: redis %v; want the flat fields folded in", redis)
	}
}
