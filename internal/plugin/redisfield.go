package plugin

import (
	"time"

	"sluice/internal/model"
)

// RedisField is Kong 3.6+'s shared redis record of the plugins that keep
// counters on Redis (rate-limiting, response-ratelimiting).
func RedisField() *model.Field {
	return &model.Field{Name: "redis", Type: model.TypeRecord, Fields: []*model.Field{
		{Name: "host", Type: model.TypeString},
		{Name: "port", Type: model.TypeInteger, Default: 6379, Between: []float64{0, 65535}},
		{Name: "timeout", Type: model.TypeInteger, Default: 2000, Between: []float64{0, 2147483646}},
		{Name: "username", Type: model.TypeString},
		{Name: "password", Type: model.TypeString, Referenceable: true, Encrypted: true},
		{Name: "database", Type: model.TypeInteger, Default: 0},
		{Name: "ssl", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "ssl_verify", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "server_name", Type: model.TypeString},
	}}
}

// flatRedis are the pre-3.6 redis_* fields, still accepted by Kong 3.6+ as
// deprecated aliases of the redis record's fields.
var flatRedis = []struct {
	flat, nested string
	typ          model.FieldType
}{
	{"redis_host", "host", model.TypeString},
	{"redis_port", "port", model.TypeInteger},
	{"redis_password", "password", model.TypeString},
	{"redis_username", "username", model.TypeString},
	{"redis_ssl", "ssl", model.TypeBoolean},
	{"redis_ssl_verify", "ssl_verify", model.TypeBoolean},
	{"redis_server_name", "server_name", model.TypeString},
	{"redis_timeout", "timeout", model.TypeInteger},
	{"redis_database", "database", model.TypeInteger},
}

// RedisShorthands are Kong's deprecated redis_* shorthand fields of a
// counting plugin (rate-limiting, response-ratelimiting): each fills its
// field of the redis record where that is unset, and answers show it with
// the record's value.
func RedisShorthands(plugin string) []model.Shorthand {
	out := make([]model.Shorthand, 0, len(flatRedis))
	for _, f := range flatRedis {
		nested := f.nested
		out = append(out, model.Shorthand{
			Name: f.flat,
			// redis_password may be empty (len_min = 0), and is
			// referenceable as redis.password is.
			Field: &model.Field{Type: f.typ, EmptyOK: f.flat == "redis_password", Referenceable: f.flat == "redis_password"},
			Expand: func(v any) (map[string]any, string) {
				return map[string]any{"redis": map[string]any{nested: v}}, ""
			},
			Deprecation: &model.Deprecation{
				Message:          plugin + ": config." + f.flat + " is deprecated, please use config.redis." + nested + " instead",
				RemovalInVersion: "4.0",
				ReplacedWith:     [][]string{{"redis", nested}},
			},
		})
	}
	return out
}

// RedisConfigOf reads a config's redis record. A config stored by an
// earlier sluice may hold the deprecated flat redis_* fields instead (they
// were plain fields then; now they are shorthands folded into the record
// when a config is written): they fill what the record leaves unset.
func RedisConfigOf(cfg map[string]any) RedisConfig {
	r, _ := cfg["redis"].(map[string]any)
	get := func(nested string) any {
		if v := r[nested]; v != nil {
			return v
		}
		return cfg["redis_"+nested]
	}
	var rc RedisConfig
	rc.Host, _ = get("host").(string)
	rc.Port = 6379
	if v, ok := model.Number(get("port")); ok {
		rc.Port = int(v)
	}
	rc.Username, _ = get("username").(string)
	rc.Password, _ = get("password").(string)
	if v, ok := model.Number(get("database")); ok {
		rc.Database = int(v)
	}
	rc.SSL, _ = get("ssl").(bool)
	rc.SSLVerify, _ = get("ssl_verify").(bool)
	rc.ServerName, _ = get("server_name").(string)
	rc.Timeout = 2 * time.Second
	if v, ok := model.Number(get("timeout")); ok && v > 0 {
		rc.Timeout = time.Duration(v) * time.Millisecond
	}
	return rc
}

// CheckCounterPolicy adds to fields the errors of a counting plugin's
// policy (rate-limiting, response-ratelimiting): "cluster" is refused
// without a database (Kong's DB-less one_of {local, redis}), and "redis"
// needs a host in the redis record.
func CheckCounterPolicy(rec, fields map[string]any) {
	if DBless() && rec["policy"] == "cluster" {
		fields["policy"] = "expected one of: local, redis"
	}
	if rec["policy"] == "redis" {
		r, _ := rec["redis"].(map[string]any)
		if (r == nil || r["host"] == nil) && rec["redis_host"] == nil {
			fields["redis"] = map[string]any{"host": "required field missing"}
		}
	}
}
