package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
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

var (
	_ plugin.ClusterCounters  = (*Counters)(nil)
	_ plugin.ResponseCounters = (*Counters)(nil)
)

// takeSQL calls the function created by migration 002_ratelimiting.
const takeSQL = `SELECT u_second, u_minute, u_hour, u_day, u_month, u_year FROM ratelimiting_take($1, $2, $3, $4, $5)`

// cleanupSQL deletes one batch of a table's rows expired before $1,
// skipping rows that a request holds (Kong's connector cleanup, batched the
// same way).
const cleanupSQL = `WITH rows AS (
	SELECT ctid FROM %[1]s WHERE ttl < $1 ORDER BY ttl LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM %[1]s WHERE ctid IN (TABLE rows)`

// counterTables are the tables Cleanup empties of expired rows.
var counterTables = []string{"ratelimiting_metrics", "response_ratelimiting_metrics"}

// responseUsageSQL reads the cells $4 (periods) and $5 (window starts, unix
// seconds) of an identifier ($1) in a plugin's scope ($2 service, $3
// route), in order, 0 for a missing or negative value (Kong's find).
const responseUsageSQL = `SELECT COALESCE(GREATEST(m.value, 0), 0)
FROM unnest($4::TEXT[], $5::BIGINT[]) WITH ORDINALITY AS u(period, start, i)
LEFT JOIN response_ratelimiting_metrics m
  ON m.identifier = $1 AND m.service_id = $2 AND m.route_id = $3
 AND m.period = u.period AND m.period_date = to_timestamp(u.start)
ORDER BY u.i`

// responseAddSQL adds $7 to each cell, creating it with its ttl ($6:
// seconds from now). Cells are upserted in the order given.
const responseAddSQL = `INSERT INTO response_ratelimiting_metrics AS m (identifier, period, period_date, service_id, route_id, value, ttl)
SELECT $1, u.period, to_timestamp(u.start), $2, $3, $7, CURRENT_TIMESTAMP + make_interval(secs => u.ttl)
FROM unnest($4::TEXT[], $5::BIGINT[], $6::BIGINT[]) WITH ORDINALITY AS u(period, start, ttl, i)
ORDER BY u.i
ON CONFLICT (identifier, period, period_date, service_id, route_id)
DO UPDATE SET value = m.value + EXCLUDED.value`

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

// ResponseUsage implements plugin.ResponseCounters in one round trip.
func (c *Counters) ResponseUsage(ctx context.Context, serviceID, routeID, identifier string, cells []plugin.ResponseCell, usage []int64) error {
	periods, starts := make([]string, len(cells)), make([]int64, len(cells))
	for i, cl := range cells {
		periods[i], starts[i] = cl.Period, cl.Start
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rows, err := c.pool.Query(ctx, responseUsageSQL, identifier, serviceID, routeID, periods, starts)
	if err != nil {
		return mapErr(fmt.Errorf("postgres counters: %w", err))
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		if i >= len(cells) {
			return errors.New("postgres counters: more rows than cells")
		}
		if err := rows.Scan(&usage[i]); err != nil {
			return mapErr(fmt.Errorf("postgres counters: %w", err))
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return mapErr(fmt.Errorf("postgres counters: %w", err))
	}
	if i != len(cells) {
		return errors.New("postgres counters: fewer rows than cells")
	}
	return nil
}

// ResponseAdd implements plugin.ResponseCounters in one round trip. A new
// cell lives for its period's length (Kong's EXPIRATION, read from the
// period name's suffix).
func (c *Counters) ResponseAdd(ctx context.Context, serviceID, routeID, identifier string, cells []plugin.ResponseCell, n int64) error {
	periods, starts, ttls := make([]string, len(cells)), make([]int64, len(cells)), make([]int64, len(cells))
	for i, cl := range cells {
		periods[i], starts[i], ttls[i] = cl.Period, cl.Start, plugin.PeriodSeconds[len(plugin.PeriodSeconds)-1]
		for p, name := range plugin.PeriodNames {
			if strings.HasSuffix(cl.Period, "_"+name) {
				ttls[i] = plugin.PeriodSeconds[p]
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.pool.Exec(ctx, responseAddSQL, identifier, serviceID, routeID, periods, starts, ttls, n); err != nil {
		return mapErr(fmt.Errorf("postgres counters: %w", err))
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
		var n int64
		for _, table := range counterTables {
			tag, err := c.pool.Exec(bctx, fmt.Sprintf(cleanupSQL, table), cutoff, c.opts.CleanupBatch)
			if err != nil {
				cancel()
				return total, mapErr(fmt.Errorf("postgres counters: %w", err))
			}
			n = max(n, tag.RowsAffected())
			total += tag.RowsAffected()
		}
		cancel()
		if n < int64(c.opts.CleanupBatch) {
			return total, nil
		}
	}
	return total, nil
}
