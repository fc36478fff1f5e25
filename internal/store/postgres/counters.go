package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"sluice/internal/plugin"
)

// CountersOptions tune Counters; zero values take the defaults.
type CountersOptions struct {
	// Timeout bounds each Take (default: Options.Timeout, Kong's
	// pg_timeout).
	Timeout time.Duration
	// CleanupInterval is how often expired rows are deleted (default 60s,
	// Kong's pg_ttl_cleanup_interval), jittered by up to a tenth so that
	// nodes do not run it in lockstep; < 0 disables the cleanup.
	CleanupInterval time.Duration
	// CleanupBatch and CleanupMaxBatches bound one cleanup run: at most
	// CleanupMaxBatches deletes of CleanupBatch rows each (defaults 10000
	// and 10); what is left waits for the next run.
	CleanupBatch, CleanupMaxBatches int
	// Logger receives cleanup failures; slog.Default() when nil.
	Logger *slog.Logger
}

// Counters are rate-limiting counters in Kong's ratelimiting_metrics table
// (plugin.ClusterCounters, the "cluster" policy), on a connection pool of
// their own so that request-path counting never waits behind config reads.
// Safe for concurrent use.
type Counters struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	opts    CountersOptions
	log     *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

var _ plugin.ClusterCounters = (*Counters)(nil)

// takeSQL calls the function created by migration 002_ratelimiting.
const takeSQL = `SELECT u_second, u_minute, u_hour, u_day, u_month, u_year FROM ratelimiting_take($1, $2, $3, $4, $5)`

// cleanupSQL deletes one batch of rows expired before $1, skipping rows
// that a request holds (Kong's connector cleanup, batched the same way).
const cleanupSQL = `WITH rows AS (
	SELECT ctid FROM ratelimiting_metrics WHERE ttl < $1 ORDER BY ttl LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM ratelimiting_metrics WHERE ctid IN (TABLE rows)`

// OpenCounters returns the counters of the database o names. No connection
// is made until the first call; the database must have run migration
// 002_ratelimiting (Open checks that). It starts the periodic cleanup of
// expired rows; Close stops it and closes the pool.
func OpenCounters(o Options, co CountersOptions) (*Counters, error) {
	o = o.withDefaults()
	cc, err := o.ConnConfig()
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("postgres counters: %w", err)
	}
	pc.ConnConfig = cc
	// A counter lost to a server crash costs a client a few requests; a
	// WAL flush on every request costs every request its latency.
	cc.RuntimeParams["synchronous_commit"] = "off"
	pc.MaxConns = int32(o.MaxConns)
	pc.MinConns = 0
	pc.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres counters: %w", err)
	}
	if co.Timeout <= 0 {
		co.Timeout = o.Timeout
	}
	if co.CleanupInterval == 0 {
		co.CleanupInterval = time.Minute
	}
	if co.CleanupBatch <= 0 {
		co.CleanupBatch = 10000
	}
	if co.CleanupMaxBatches <= 0 {
		co.CleanupMaxBatches = 10
	}
	c := &Counters{pool: pool, timeout: co.Timeout, opts: co, log: co.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if co.CleanupInterval > 0 {
		c.wg.Add(1)
		go c.cleanupLoop(ctx)
	}
	return c, nil
}

// closeWait bounds how long Close waits for the pool: connections whose
// query timed out on an unresponsive server are still sending their cancel
// requests (pgx gives them 15s); they finish in the background.
const closeWait = 2 * time.Second

// Close stops the cleanup and closes the pool.
func (c *Counters) Close() {
	c.once.Do(func() {
		c.cancel()
		c.wg.Wait()
		done := make(chan struct{})
		go func() {
			c.pool.Close()
			close(done)
		}()
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			c.log.Warn("rate-limiting counters: closing the PostgreSQL pool is taking long; leaving it to finish in the background")
		}
	})
}

// takeArgs are one Take's query arguments and results, pooled: the
// arrays are boxed into args and dest once, when the value is made.
type takeArgs struct {
	starts, limits, usage [6]int64
	args                  [5]any
	dest                  [6]any
}

var takeArgsPool = sync.Pool{New: func() any {
	a := &takeArgs{}
	a.args[3], a.args[4] = a.starts[:], a.limits[:]
	for i := range a.dest {
		a.dest[i] = &a.usage[i]
	}
	return a
}}

// Take implements plugin.ClusterCounters in one round trip.
func (c *Counters) Take(ctx context.Context, serviceID, routeID, identifier string, ws []plugin.CounterWindow, usage []int64) error {
	a := takeArgsPool.Get().(*takeArgs)
	defer takeArgsPool.Put(a)
	a.starts, a.limits = [6]int64{}, [6]int64{}
	for _, w := range ws {
		if int(w.Period) >= len(a.limits) {
			return fmt.Errorf("postgres counters: period %d out of range", w.Period)
		}
		a.starts[w.Period], a.limits[w.Period] = w.Start, w.Limit
	}
	a.args[0], a.args[1], a.args[2] = identifier, serviceID, routeID
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.pool.QueryRow(ctx, takeSQL, a.args[:]...).Scan(a.dest[:]...)
	a.args[0], a.args[1], a.args[2] = nil, nil, nil
	if err != nil {
		return mapErr(fmt.Errorf("postgres counters: %w", err))
	}
	for i, w := range ws {
		usage[i] = a.usage[w.Period]
	}
	return nil
}

func (c *Counters) cleanupLoop(ctx context.Context) {
	defer c.wg.Done()
	for {
		d := c.opts.CleanupInterval
		d += time.Duration(rand.Int64N(int64(d)/10 + 1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		if _, err := c.Cleanup(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("unable to clean expired rows from table 'ratelimiting_metrics'", "error", err)
		}
	}
}

// Cleanup deletes rows whose ttl has passed, in batches, at most
// CleanupBatch*CleanupMaxBatches rows per call, and returns how many it
// deleted.
func (c *Counters) Cleanup(ctx context.Context) (int64, error) {
	cutoff := time.Now()
	var total int64
	for range c.opts.CleanupMaxBatches {
		bctx, cancel := context.WithTimeout(ctx, c.timeout+10*time.Second)
		tag, err := c.pool.Exec(bctx, cleanupSQL, cutoff, c.opts.CleanupBatch)
		cancel()
		if err != nil {
			return total, mapErr(fmt.Errorf("postgres counters: %w", err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(c.opts.CleanupBatch) {
			return total, nil
		}
	}
	return total, nil
}
