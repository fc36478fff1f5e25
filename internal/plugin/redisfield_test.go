package plugin

import (
	"testing"
	"time"
)

// TestRedisConfigOf reads the redis record, and a config stored by an
// earlier sluice with the flat redis_* fields instead.
func TestRedisConfigOf(t *testing.T) {
	rc := RedisConfigOf(map[string]any{"redis": map[string]any{"host": "r.test", "port": 6390.0, "timeout": 500.0, "ssl": true}})
	if rc.Host != "r.test" || rc.Port != 6390 || rc.Timeout != 500*time.Millisecond || !rc.SSL {
		t.Errorf("record: %+v", rc)
	}
	rc = RedisConfigOf(map[string]any{"redis": nil, "redis_host": "legacy.test", "redis_port": 6380.0, "redis_database": 2.0})
	if rc.Host != "legacy.test" || rc.Port != 6380 || rc.Database != 2 || rc.Timeout != 2*time.Second {
		t.Errorf("legacy flat fields: %+v", rc)
	}
	if rc := RedisConfigOf(map[string]any{"redis": map[string]any{"host": "h"}}); rc.Port != 6379 {
		t.Errorf("no port: %d; want 6379", rc.Port)
	}
}
