package grpcjson

import (
	"sync"
	"time"
)

// RetryLoad is how long a .proto file that failed to load is left alone
// before the next request tries again.
const RetryLoad = 5 * time.Second

// Cached compiles a .proto file on first use (as Kong does, so that a
// config naming a file not yet deployed still loads) and keeps it. A
// failure is kept for RetryLoad.
type Cached struct {
	Path string

	mu       sync.Mutex
	schema   *Schema
	err      error
	failedAt time.Time
}

// Get returns the compiled file. fresh is true when this call compiled it
// or failed to (the caller logs the outcome once).
func (c *Cached) Get() (s *Schema, fresh bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.schema != nil {
		return c.schema, false, nil
	}
	if c.err != nil && time.Since(c.failedAt) < RetryLoad {
		return nil, false, c.err
	}
	s, err = Load(c.Path)
	if err != nil {
		c.err, c.failedAt = err, time.Now()
		return nil, true, err
	}
	c.schema, c.err = s, nil
	return s, true, nil
}
