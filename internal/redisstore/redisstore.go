// Package redisstore gives plugins counters on Redis servers
// (plugin.Counters), for the rate-limiting "redis" policy. One client is
// kept per distinct connection config and shared by every plugin instance
// and snapshot; cmd/sluice owns the Pool and closes it at exit.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"sluice/internal/plugin"
)

// Pool holds the Redis clients. Safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	clients map[plugin.RedisConfig]*Client
	closed  bool
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{clients: map[plugin.RedisConfig]*Client{}} }

// Counters returns the client for cfg, creating it on first use (no
// connection is made until the first command).
func (p *Pool) Counters(cfg plugin.RedisConfig) (plugin.Counters, error) {
	if cfg.Host == "" {
		return nil, errors.New("redis host is required")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("redis pool is closed")
	}
	if c := p.clients[cfg]; c != nil {
		return c, nil
	}
	c := newClient(cfg)
	p.clients[cfg] = c
	return c, nil
}

// Len is the number of clients held.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// Close closes every client.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, c := range p.clients {
		_ = c.rdb.Close()
		delete(p.clients, k)
	}
}

// Client is plugin.Counters on one Redis server.
type Client struct{ rdb *redis.Client }

func newClient(cfg plugin.RedisConfig) *Client {
	port := cfg.Port
	if port == 0 {
		port = 6379
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	opts := &redis.Options{
		Addr:         net.JoinHostPort(cfg.Host, strconv.Itoa(port)),
		Username:     cfg.Username,
		Password:     cfg.Password,
		DB:           cfg.Database,
		DialTimeout:  timeout,
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		MaxRetries:   -1, // a rate limiter answers now or not at all
	}
	if cfg.SSL {
		name := cfg.ServerName
		if name == "" {
			name = cfg.Host
		}
		opts.TLSConfig = &tls.Config{ServerName: name, InsecureSkipVerify: !cfg.SSLVerify} //nolint:gosec // Kong's ssl_verify=false
	}
	return &Client{rdb: redis.NewClient(opts)}
}

// takeScript increments every key, sets the expiry of new keys and returns
// the values before the increment (Kong's realtime redis policy).
var takeScript = redis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do
  local n = redis.call("incr", k)
  if n == 1 then redis.call("expire", k, ARGV[i]) end
  out[i] = n - 1
end
return out
`)

// Take implements plugin.Counters in one round trip.
func (c *Client) Take(ctx context.Context, keys []string, ttls []time.Duration) ([]int64, error) {
	args := make([]any, len(ttls))
	for i, d := range ttls {
		args[i] = int64(d / time.Second)
	}
	res, err := takeScript.Run(ctx, c.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(keys) {
		return nil, errors.New("redis: unexpected reply length")
	}
	return res, nil
}

// addScript adds ARGV[1] to every key and sets the expiry of new keys
// (Kong's response-ratelimiting redis policy, in one round trip).
var addScript = redis.NewScript(`
for i, k in ipairs(KEYS) do
  redis.call("incrby", k, ARGV[1])
  if redis.call("ttl", k) == -1 then redis.call("expire", k, ARGV[i + 1]) end
end
return 0
`)

// Get implements plugin.Counters: one MGET.
func (c *Client) Get(ctx context.Context, keys []string) ([]int64, error) {
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("redis: counter %q holds %q", keys[i], s)
			}
			out[i] = n
		}
	}
	return out, nil
}

// Add implements plugin.Counters in one round trip.
func (c *Client) Add(ctx context.Context, keys []string, n int64, ttls []time.Duration) error {
	args := make([]any, 1+len(ttls))
	args[0] = n
	for i, d := range ttls {
		args[i+1] = max(int64(d/time.Second), 1)
	}
	return addScript.Run(ctx, c.rdb, keys, args...).Err()
}

var _ plugin.Counters = (*Client)(nil)
