package postgres

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"sluice/internal/plugin"
	_ "sluice/internal/plugin/ratelimiting"
	gwproxy "sluice/internal/proxy"
	"sluice/internal/proxytest"
	"sluice/internal/snapshot"
	"sluice/internal/store"
	"sluice/internal/upstream"
)

const emptyUUID = "00000000-0000-0000-0000-000000000000"

func openCounters(t testing.TB, o Options, co CountersOptions) *Counters {
	t.Helper()
	if co.CleanupInterval == 0 {
		co.CleanupInterval = -1
	}
	c, err := OpenCounters(o, co)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type metricRow struct {
	value int64
	ttl   time.Duration // ttl - now
}

// rows reads ratelimiting_metrics by period for one identifier.
func rows(t *testing.T, o Options, identifier string) map[string]metricRow {
	t.Helper()
	db, _, err := openDB(o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(`SELECT period, period_date, service_id, route_id, value, EXTRACT(EPOCH FROM ttl - now()) FROM ratelimiting_metrics WHERE identifier = $1`, identifier)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]metricRow{}
	for rs.Next() {
		var period, svc, route string
		var date time.Time
		var v int64
		var ttl float64
		if err := rs.Scan(&period, &date, &svc, &route, &v, &ttl); err != nil {
			t.Fatal(err)
		}
		out[period+"@"+strconv.FormatInt(date.Unix(), 10)+"@"+svc+"@"+route] = metricRow{v, time.Duration(ttl * float64(time.Second))}
	}
	return out
}

// TestCountersTake: Kong's row layout, all-or-nothing counting, usage
// before the request.
func TestCountersTake(t *testing.T) {
	o := bootstrapped(t)
	c := openCounters(t, o, CountersOptions{})
	ctx := context.Background()
	svc := "5ea1b6c2-0000-4000-8000-000000000001"
	ws := []plugin.CounterWindow{{Period: 1, Start: 1200, Limit: 2}, {Period: 2, Start: 0, Limit: 3}}
	usage := make([]int64, 2)
	want := [][2]int64{{0, 0}, {1, 1}, {2, 2}, {2, 2}} // the 3rd and 4th are refused by the minute: not counted
	for i, w := range want {
		if err := c.Take(ctx, svc, emptyUUID, "10.0.0.1", ws, usage); err != nil {
			t.Fatal(err)
		}
		if usage[0] != w[0] || usage[1] != w[1] {
			t.Fatalf("take %d: usage %v; want %v", i+1, usage, w)
		}
	}
	got := rows(t, o, "10.0.0.1")
	m, h := got["minute@1200@"+svc+"@"+emptyUUID], got["hour@0@"+svc+"@"+emptyUUID]
	if len(got) != 2 || m.value != 2 || h.value != 2 {
		t.Fatalf("rows %v; want minute and hour rows at 2", got)
	}
	if m.ttl < 55*time.Second || m.ttl > 61*time.Second || h.ttl < 3595*time.Second || h.ttl > 3601*time.Second {
		t.Errorf("ttl minute %v, hour %v; want about 60s and 3600s (Kong's EXPIRATION)", m.ttl, h.ttl)
	}
	// Next minute: the minute counts again, the hour stops at 3.
	ws[0].Start = 1260
	for i, w := range [][2]int64{{0, 2}, {1, 3}} {
		if err := c.Take(ctx, svc, emptyUUID, "10.0.0.1", ws, usage); err != nil {
			t.Fatal(err)
		}
		if usage[0] != w[0] || usage[1] != w[1] {
			t.Fatalf("next minute take %d: usage %v; want %v", i+1, usage, w)
		}
	}
	if got := rows(t, o, "10.0.0.1"); got["minute@1260@"+svc+"@"+emptyUUID].value != 1 || got["hour@0@"+svc+"@"+emptyUUID].value != 3 {
		t.Errorf("rows %v; want minute 1260 at 1 (the refused request undone), hour at 3", got)
	}
	// Another scope and identifier count on their own.
	if err := c.Take(ctx, emptyUUID, svc, "10.0.0.1", ws, usage); err != nil || usage[0] != 0 || usage[1] != 0 {
		t.Errorf("other scope: usage %v, %v; want zeros", usage, err)
	}
	if err := c.Take(ctx, svc, emptyUUID, "2001:db8::1", ws, usage); err != nil || usage[0] != 0 {
		t.Errorf("other identifier: usage %v, %v; want zeros", usage, err)
	}
}

// TestCountersConcurrent: many goroutines on several pools against one
// limit: exactly limit requests are counted.
func TestCountersConcurrent(t *testing.T) {
	o := bootstrapped(t)
	var nodes []*Counters
	for range 3 {
		nodes = append(nodes, openCounters(t, o, CountersOptions{}))
	}
	const limit = 50
	ws := []plugin.CounterWindow{{Period: 0, Start: 100, Limit: 1000}, {Period: 1, Start: 60, Limit: limit}, {Period: 3, Start: 0, Limit: limit + 5}}
	var mu sync.Mutex
	passed := 0
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func(c *Counters) {
			defer wg.Done()
			usage := make([]int64, len(ws))
			for range 10 {
				if err := c.Take(context.Background(), emptyUUID, emptyUUID, "x", ws, usage); err != nil {
					t.Error(err)
					return
				}
				if usage[1] < limit && usage[2] < limit+5 {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			}
		}(nodes[g%3])
	}
	wg.Wait()
	if passed != limit {
		t.Fatalf("%d of 120 passed; want exactly %d", passed, limit)
	}
	got := rows(t, o, "x")
	for k, r := range got {
		if r.value != limit {
			t.Errorf("row %s = %d; want %d (refused requests are not counted)", k, r.value, limit)
		}
	}
}

// TestCountersCleanup: expired rows go in bounded batches; live rows stay;
// the background loop removes them on its own.
func TestCountersCleanup(t *testing.T) {
	o := bootstrapped(t)
	db, _, err := openDB(o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fill := func(n int, ttl string) {
		t.Helper()
		_, err := db.Exec(`INSERT INTO ratelimiting_metrics (identifier, period, period_date, value, ttl)
			SELECT 'id' || g || '-' || $2, 'minute', to_timestamp(0), 1, now() + $1::interval FROM generate_series(1, $3) g`, ttl, ttl, n)
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func() (expired, live int) {
		t.Helper()
		if err := db.QueryRow(`SELECT count(*) FILTER (WHERE ttl < now()), count(*) FILTER (WHERE ttl >= now()) FROM ratelimiting_metrics`).Scan(&expired, &live); err != nil {
			t.Fatal(err)
		}
		return
	}
	fill(25, "-1 minute")
	fill(7, "1 hour")
	c := openCounters(t, o, CountersOptions{CleanupBatch: 10, CleanupMaxBatches: 2})
	n, err := c.Cleanup(context.Background())
	if err != nil || n != 20 {
		t.Fatalf("first cleanup deleted %d, %v; want 20 (2 batches of 10)", n, err)
	}
	if e, l := count(); e != 5 || l != 7 {
		t.Fatalf("after one run: %d expired, %d live; want 5 and 7", e, l)
	}
	if n, err := c.Cleanup(context.Background()); err != nil || n != 5 {
		t.Fatalf("second cleanup deleted %d, %v; want 5", n, err)
	}

	// The background loop.
	fill(30, "-1 second")
	bg := openCounters(t, o, CountersOptions{CleanupInterval: 20 * time.Millisecond, CleanupBatch: 10, CleanupMaxBatches: 1})
	_ = bg
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, l := count()
		if e == 0 && l == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background cleanup left %d expired rows (%d live)", e, l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCountersMigrationUp: a database bootstrapped before the counters
// existed gets them from `migrations up`.
func TestCountersMigrationUp(t *testing.T) {
	ctx := context.Background()
	o := bootstrapped(t)
	db, _, err := openDB(o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TABLE ratelimiting_metrics; ` + dropFunctions + `; DELETE FROM ` + migrationsTable + ` WHERE name = '002_ratelimiting'`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, o); err == nil {
		t.Fatal("Open with 002_ratelimiting pending succeeded")
	}
	ran, err := Up(ctx, o)
	if err != nil || len(ran) != 1 || ran[0] != "002_ratelimiting" {
		t.Fatalf("Up ran %v, %v; want [002_ratelimiting]", ran, err)
	}
	openStore(t, o)
	c := openCounters(t, o, CountersOptions{})
	usage := []int64{9}
	if err := c.Take(ctx, emptyUUID, emptyUUID, "a", []plugin.CounterWindow{{Period: 2, Start: 3600, Limit: 1}}, usage); err != nil || usage[0] != 0 {
		t.Fatalf("take after up: %v, %v", usage, err)
	}
	if err := Reset(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := Bootstrap(ctx, o); err != nil {
		t.Fatalf("bootstrap after reset: %v", err)
	}
}

// TestCountersUnreachable: a server that does not answer or is not there
// fails Take within the timeout, as store.ErrUnavailable.
func TestCountersUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	o := serverOptions()
	o.Port = closedPort
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	o2 := serverOptions()
	o2.Port = silent.Addr().(*net.TCPAddr).Port
	o2.Timeout = 300 * time.Millisecond
	for name, o := range map[string]Options{"closed port": o, "silent server": o2} {
		c := openCounters(t, o, CountersOptions{Timeout: 300 * time.Millisecond})
		start := time.Now()
		err := c.Take(context.Background(), emptyUUID, emptyUUID, "a", []plugin.CounterWindow{{Period: 1, Start: 60, Limit: 1}}, make([]int64, 1))
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: %v; want store.ErrUnavailable", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: Take took %v; want about the 300ms timeout", name, d)
		}
	}
}

// clusterGateway is one gateway node (snapshot and proxy) whose
// rate-limiting plugin counts on the database o through its own pool.
func clusterGateway(t *testing.T, o Options, upURL, cfg string) string {
	t.Helper()
	c := openCounters(t, o, CountersOptions{Timeout: 500 * time.Millisecond})
	conf := proxytest.Config(t, upURL, map[string]string{"rate-limiting": cfg})
	pool := upstream.NewPool()
	s, err := snapshot.Build(nil, conf, "0123456789abcdef0123456789abcdef", &snapshot.Env{Pool: pool, Plugins: plugin.Lookup, Cluster: c})
	if err != nil {
		t.Fatal(err)
	}
	cur := &snapshot.Current{}
	cur.Store(s)
	px := gwproxy.New(cur, gwproxy.Options{})
	front := httptest.NewServer(px)
	t.Cleanup(func() { front.Close(); px.Close(); pool.Close() })
	return front.URL
}

// TestClusterPolicyThreeGateways: three gateways sharing one database
// share a limit of N per minute under concurrent clients: exactly N pass.
// Then the database stops answering: fault_tolerant gateways let traffic
// through without rate-limit headers, the others answer Kong's 500, and no
// request waits much longer than the counters' timeout.
func TestClusterPolicyThreeGateways(t *testing.T) {
	o := bootstrapped(t)
	tcp := newProxy(t, "127.0.0.1:5432") // the strict and tolerant nodes' path to PostgreSQL
	po := o
	po.Port = tcp.port()
	po.Timeout = 500 * time.Millisecond
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer up.Close()
	const limit = 40
	cfg := func(tolerant bool) string {
		return `{"minute": ` + strconv.Itoa(limit) + `, "hour": ` + strconv.Itoa(10*limit) +
			`, "limit_by": "header", "header_name": "X-Client", "policy": "cluster", "fault_tolerant": ` + strconv.FormatBool(tolerant) + `}`
	}
	var shared, tolerant, strict []string
	for range 3 {
		shared = append(shared, clusterGateway(t, o, up.URL, cfg(true)))
		tolerant = append(tolerant, clusterGateway(t, po, up.URL, cfg(true)))
		strict = append(strict, clusterGateway(t, po, up.URL, cfg(false)))
	}
	get := func(base, client string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-Client", client)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil, ""
		}
		defer res.Body.Close()
		var b [256]byte
		n, _ := res.Body.Read(b[:])
		return res.StatusCode, res.Header, string(b[:n])
	}
	// Stay inside one minute window.
	if s := time.Now().Second(); s > 50 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for g := range 9 {
		wg.Add(1)
		go func(base string) {
			defer wg.Done()
			for range 10 {
				st, _, _ := get(base, "alice")
				mu.Lock()
				counts[st]++
				mu.Unlock()
			}
		}(shared[g%3])
	}
	wg.Wait()
	if counts[200] != limit || counts[429] != 90-limit {
		t.Fatalf("statuses across three gateways %v; want %d x 200 and %d x 429", counts, limit, 90-limit)
	}
	st, h, _ := get(shared[1], "alice")
	if st != 429 || h.Get("X-Ratelimit-Remaining-Minute") != "0" || h.Get("X-Ratelimit-Remaining-Hour") != strconv.Itoa(9*limit) {
		t.Errorf("after the limit: %d, remaining minute %q hour %q; want 429, 0, %d", st, h.Get("X-Ratelimit-Remaining-Minute"), h.Get("X-Ratelimit-Remaining-Hour"), 9*limit)
	}
	// The path through the TCP proxy works before it breaks.
	if st, h, _ := get(strict[0], "bob"); st != 200 || h.Get("X-Ratelimit-Remaining-Minute") != strconv.Itoa(limit-1) {
		t.Fatalf("strict node with the database up: %d, remaining %q", st, h.Get("X-Ratelimit-Remaining-Minute"))
	}

	tcp.paused.Store(true) // PostgreSQL stops answering
	tcp.drop()             // and the pooled connections break
	for _, tt := range []struct {
		nodes []string
		want  int
		body  string
	}{{tolerant, 200, ""}, {strict, 500, "An unexpected error occurred"}} {
		for i, base := range tt.nodes {
			start := time.Now()
			st, h, body := get(base, "bob")
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("node %d: request took %v with the database down", i, d)
			}
			if st != tt.want || h.Get("X-Ratelimit-Limit-Minute") != "" {
				t.Errorf("node %d with the database down: %d, limit header %q; want %d without rate-limit headers", i, st, h.Get("X-Ratelimit-Limit-Minute"), tt.want)
			}
			if tt.body != "" && proxytest.Message(t, body) != tt.body {
				t.Errorf("node %d: body %q; want message %q", i, body, tt.body)
			}
		}
	}
}
