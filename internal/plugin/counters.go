package plugin

import (
	"context"
	"time"
)

// RedisConfig is a Redis connection a plugin asks for (Kong's shared redis
// record: host, port, credentials, database, TLS, timeout). It is
// comparable, so that providers can share one client per distinct config.
type RedisConfig struct {
	Host       string
	Port       int
	Username   string
	Password   string
	Database   int
	SSL        bool
	SSLVerify  bool
	ServerName string
	Timeout    time.Duration
}

// Counters is a counter store shared between nodes (Redis), used by the
// rate-limiting "redis" policy.
type Counters interface {
	// Take adds 1 to each key and returns the values before the
	// increment (0 for new keys); a key created by Take expires after
	// ttls[i]. It is atomic per key.
	Take(ctx context.Context, keys []string, ttls []time.Duration) ([]int64, error)
}
