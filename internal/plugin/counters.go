package plugin

import (
	"context"
	"sync/atomic"
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
// "redis" policies of rate-limiting and response-ratelimiting.
type Counters interface {
	// Take adds 1 to each key and returns the values before the
	// increment (0 for new keys); a key created by Take expires after
	// ttls[i]. It is atomic per key.
	Take(ctx context.Context, keys []string, ttls []time.Duration) ([]int64, error)
	// Get returns the keys' values (0 for missing keys), counting nothing.
	Get(ctx context.Context, keys []string) ([]int64, error)
	// Add adds n to each key; a key created by Add expires after ttls[i].
	Add(ctx context.Context, keys []string, n int64, ttls []time.Duration) error
}

// dbless is Kong's is_dbless() (database = off).
var dbless atomic.Bool

// SetDBless tells the plugins' schemas whether the node runs without a
// database (database = off), where Kong 3.x's rate-limiting and
// response-ratelimiting offer only "local" and "redis" as policies, so
// that a config asking for "cluster" is refused with Kong's message.
// cmd/sluice calls it before validating any config.
func SetDBless(on bool) { dbless.Store(on) }

// DBless reports what SetDBless set.
func DBless() bool { return dbless.Load() }
