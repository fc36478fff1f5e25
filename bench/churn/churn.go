package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// keyHeader carries the consumer's key; rateLimit is rate-limiting's
// per-second limit, far above the load so that it never answers 429.
const (
	keyHeader = "apikey"
	rateLimit = 1_000_000_000
)

// state is the configuration the harness believes the cluster has. Routes
// 0..loadRoutes-1 and consumers 0..loadConsumers-1 carry the load and are
// never changed; the bulk changes pick among the others.
type state struct {
	upstream      string
	plugins       bool
	routePath     []string // route i's path
	keys          []string // consumer i's key
	keyIDs        []string // consumer i's credential id (postgres mode)
	added         []string // services (and routes) added by the last change
	loadRoutes    int
	loadConsumers int
	gen           int // changes applied so far
}

func newState(upstream string, routes, consumers int, plugins bool) *state {
	s := &state{upstream: upstream, plugins: plugins,
		routePath: make([]string, routes), keys: make([]string, consumers), keyIDs: make([]string, consumers),
		loadRoutes: max(1, routes/10), loadConsumers: max(1, consumers/10)}
	for i := range s.routePath {
		s.routePath[i] = "/r" + strconv.Itoa(i)
	}
	for i := range s.keys {
		s.keys[i] = "key-" + strconv.Itoa(i)
	}
	return s
}

// loadPath is the request path for load route i.
func loadPath(i int) string { return "/r" + strconv.Itoa(i) + "/x" }

// declarative renders the state as a JSON declarative configuration.
func (s *state) declarative() ([]byte, error) {
	type route struct {
		Name  string   `json:"name"`
		Paths []string `json:"paths"`
	}
	type service struct {
		Name   string  `json:"name"`
		URL    string  `json:"url"`
		Routes []route `json:"routes"`
	}
	type cred struct {
		Key string `json:"key"`
	}
	type consumer struct {
		Username string `json:"username"`
		Creds    []cred `json:"keyauth_credentials"`
	}
	cfg := struct {
		Format    string           `json:"_format_version"`
		Services  []service        `json:"services"`
		Consumers []consumer       `json:"consumers"`
		Plugins   []map[string]any `json:"plugins,omitempty"`
	}{Format: "3.0"}
	for i, p := range s.routePath {
		n := strconv.Itoa(i)
		cfg.Services = append(cfg.Services, service{"s" + n, s.upstream, []route{{"r" + n, []string{p}}}})
	}
	for _, a := range s.added {
		cfg.Services = append(cfg.Services, service{a, s.upstream, []route{{a, []string{"/" + a}}}})
	}
	for i, k := range s.keys {
		cfg.Consumers = append(cfg.Consumers, consumer{"c" + strconv.Itoa(i), []cred{{k}}})
	}
	if s.plugins {
		cfg.Plugins = pluginBodies()
	}
	return json.Marshal(cfg)
}

func pluginBodies() []map[string]any {
	return []map[string]any{
		{"name": "key-auth", "config": map[string]any{"key_names": []string{keyHeader}}},
		{"name": "rate-limiting", "config": map[string]any{"second": rateLimit, "policy": "local", "limit_by": "consumer"}},
	}
}

// batch is one bulk change: what it changes, decided before it is applied.
type batch struct {
	gen      int
	routes   []int    // routes whose path changes
	rotate   []int    // consumers whose credential is replaced
	add      []string // services (each with a route of the same name) added
	remove   []string // services removed (those the previous change added)
	probe    string   // the last added service: its route is probed
	newPaths []string
	newKeys  []string
}

// plan picks a bulk change: routeFrac of the routes get a new path,
// keyFrac of the credentials are rotated, nAdd services are added and
// the ones the previous change added are removed.
func (s *state) plan(rng *rand.Rand, routeFrac, keyFrac float64, nAdd int) batch {
	b := batch{gen: s.gen + 1}
	pick := func(lo, n, k int) []int {
		if n-lo <= 0 {
			return nil
		}
		perm := rng.Perm(n - lo)
		k = min(k, n-lo)
		out := make([]int, k)
		for i := range k {
			out[i] = lo + perm[i]
		}
		return out
	}
	b.routes = pick(s.loadRoutes, len(s.routePath), int(routeFrac*float64(len(s.routePath))+0.5))
	b.rotate = pick(s.loadConsumers, len(s.keys), int(keyFrac*float64(len(s.keys))+0.5))
	for _, i := range b.routes {
		b.newPaths = append(b.newPaths, fmt.Sprintf("/r%d-v%d", i, b.gen))
	}
	for _, i := range b.rotate {
		b.newKeys = append(b.newKeys, fmt.Sprintf("key-%d-v%d", i, b.gen))
	}
	for j := range max(nAdd, 1) {
		b.add = append(b.add, fmt.Sprintf("x%d-%d", b.gen, j))
	}
	b.probe = b.add[len(b.add)-1]
	b.remove = s.added
	return b
}

// apply records the batch in the state (after the cluster got it).
func (s *state) apply(b batch) {
	for k, i := range b.routes {
		s.routePath[i] = b.newPaths[k]
	}
	for k, i := range b.rotate {
		s.keys[i] = b.newKeys[k]
	}
	s.added = b.add
	s.gen = b.gen
}

// admin is node 1's Admin API.
type admin struct {
	base    string
	workers int
	errs    atomic.Int64
	mu      sync.Mutex
	first   error
}

// do sends one write and checks its status.
func (a *admin) do(ctx context.Context, method, path string, body any, want ...int) ([]byte, error) {
	var code int
	var data []byte
	var err error
	for attempt := range 3 {
		code, data, err = call(ctx, method, a.base+path, body)
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	if err == nil {
		for _, w := range want {
			if code == w {
				return data, nil
			}
		}
		err = fmt.Errorf("%s %s: status %d: %s", method, path, code, truncate(string(data), 300))
	}
	a.errs.Add(1)
	a.mu.Lock()
	if a.first == nil {
		a.first = err
	}
	a.mu.Unlock()
	return nil, err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// parallel runs f(0..n-1) on the admin's workers.
func (a *admin) parallel(ctx context.Context, n int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(a.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

func idOf(data []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(data, &v)
	return v.ID
}

// load creates the whole state through the Admin API.
func (a *admin) load(ctx context.Context, s *state) error {
	a.parallel(ctx, len(s.routePath), func(i int) {
		n := strconv.Itoa(i)
		if _, err := a.do(ctx, http.MethodPost, "/services", map[string]any{"name": "s" + n, "url": s.upstream}, 201); err != nil {
			return
		}
		_, _ = a.do(ctx, http.MethodPost, "/services/s"+n+"/routes", map[string]any{"name": "r" + n, "paths": []string{s.routePath[i]}}, 201)
	})
	a.parallel(ctx, len(s.keys), func(i int) {
		n := strconv.Itoa(i)
		if _, err := a.do(ctx, http.MethodPost, "/consumers", map[string]any{"username": "c" + n}, 201); err != nil {
			return
		}
		if data, err := a.do(ctx, http.MethodPost, "/consumers/c"+n+"/key-auth", map[string]any{"key": s.keys[i]}, 201); err == nil {
			s.keyIDs[i] = idOf(data)
		}
	})
	if s.plugins {
		for _, p := range pluginBodies() {
			_, _ = a.do(ctx, http.MethodPost, "/plugins", p, 201)
		}
	}
	return a.firstErr()
}

func (a *admin) firstErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first
}

// change applies a batch through the Admin API: route updates, credential
// rotations (delete, then create) and removals in parallel, then the added
// services, the probe's last. It returns the number of writes.
func (a *admin) change(ctx context.Context, s *state, b batch) int {
	var writes atomic.Int64
	type op func()
	var ops []op
	for k, i := range b.routes {
		ops = append(ops, func() {
			_, _ = a.do(ctx, http.MethodPatch, "/routes/r"+strconv.Itoa(i), map[string]any{"paths": []string{b.newPaths[k]}}, 200)
			writes.Add(1)
		})
	}
	for k, i := range b.rotate {
		ops = append(ops, func() {
			c := "/consumers/c" + strconv.Itoa(i) + "/key-auth"
			if id := s.keyIDs[i]; id != "" {
				_, _ = a.do(ctx, http.MethodDelete, c+"/"+id, nil, 204)
				writes.Add(1)
			}
			if data, err := a.do(ctx, http.MethodPost, c, map[string]any{"key": b.newKeys[k]}, 201); err == nil {
				s.keyIDs[i] = idOf(data)
			}
			writes.Add(1)
		})
	}
	for _, name := range b.remove {
		ops = append(ops, func() {
			_, _ = a.do(ctx, http.MethodDelete, "/routes/"+name, nil, 204)
			_, _ = a.do(ctx, http.MethodDelete, "/services/"+name, nil, 204)
			writes.Add(2)
		})
	}
	addOne := func(name string) {
		if _, err := a.do(ctx, http.MethodPost, "/services", map[string]any{"name": name, "url": s.upstream}, 201); err == nil {
			_, _ = a.do(ctx, http.MethodPost, "/services/"+name+"/routes", map[string]any{"name": name, "paths": []string{"/" + name}}, 201)
		}
		writes.Add(2)
	}
	for _, name := range b.add[:len(b.add)-1] {
		ops = append(ops, func() { addOne(name) })
	}
	a.parallel(ctx, len(ops), func(i int) { ops[i]() })
	addOne(b.probe)
	return int(writes.Load())
}

// probe polls a replica's proxy for path until it answers 200 and returns
// the time it did, or false after timeout.
// probeEvery is the probe's polling interval: the lag is known to within
// it. Each probe is a request to the replica while it applies the change
// (600 a second over three replicas at 5 ms, more than the load itself),
// so it is kept coarse next to the 1 s bound.
const probeEvery = 20 * time.Millisecond

func probe(ctx context.Context, proxy, path, key string, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		code, _, err := call(ctx, http.MethodGet, "http://"+proxy+path, nil, keyHeader, key)
		if err == nil && code == http.StatusOK {
			return time.Now(), true
		}
		time.Sleep(probeEvery)
	}
	return time.Time{}, false
}

// postConfig sends the whole declarative config to one replica the way
// Kong's ingress controller does (go-kong: POST /config?check_hash=1). The
// answer (every entity, megabytes for thousands) is read and dropped as it
// comes: held, it would be garbage that the generator's process collects
// while it measures.
func postConfig(ctx context.Context, adminAddr string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+adminAddr+"/config?check_hash=1", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if code := resp.StatusCode; code != http.StatusCreated && code != http.StatusOK && code != http.StatusNotModified {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("POST /config on %s: status %d: %s", adminAddr, code, data)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
