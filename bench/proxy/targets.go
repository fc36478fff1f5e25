package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"sluice/bench/benchstats"
	"sluice/bench/internal/confgen"
	"sluice/bench/internal/wrk"
)

// Target names, in the order of each round.
const (
	tDirect     = "direct"
	tNginx      = "nginx"
	tGoFloor    = "go-floor"
	tSluice1    = "sluice-1route"
	tSluiceKong = "sluice-kong100"
	tSluice10k  = "sluice-10k"
)

var allTargets = []string{tDirect, tNginx, tGoFloor, tSluice1, tSluiceKong, tSluice10k}

// target is one thing wrk drives.
type target struct {
	name string
	note string // shown next to its rows, e.g. "plugins inactive"
	addr string // host:port
	proc *proc  // the process whose CPU and memory are measured
	// stats is the benchstats address of a Go proxy ("" for others).
	stats string
}

// mixFor is the request mix of a target: n routes and n keys; every target
// sends the same shape of request (a /r<i>/<body> path and an apikey
// header) so that only the proxy differs.
func mixFor(n int, body string) wrk.Mix {
	return wrk.Mix{Routes: n, PathFormat: "/r%d/" + body, KeyHeader: confgen.KeyHeader, Keys: n, KeyFormat: "key-%d"}
}

// routesOf is how many routes (and consumers) a target's mix cycles
// through: the references get Kong's benchmark count, which makes no
// difference to them.
func routesOf(name string) int {
	if name == tSluice10k {
		return 10000
	}
	return 100
}

// pluginNote says what a plugin-configured sluice actually does, from the
// status of a request without a key, a request with one, and the headers
// of the latter.
func pluginNote(noKey, withKey int, h http.Header) (string, error) {
	if withKey != http.StatusOK {
		return "", fmt.Errorf("a request with a valid key got %d; want 200", withKey)
	}
	rl := h.Get("X-RateLimit-Limit-Second") != "" || h.Get("RateLimit-Limit") != ""
	switch {
	case noKey == http.StatusUnauthorized && rl:
		return "key-auth and rate-limiting active", nil
	case noKey == http.StatusUnauthorized:
		return "key-auth active, rate-limiting inactive (no rate-limit headers)", nil
	case noKey == http.StatusOK && rl:
		return "key-auth inactive (no key got 200), rate-limiting active", nil
	case noKey == http.StatusOK:
		return "plugins inactive (a request without a key got 200)", nil
	}
	return "", fmt.Errorf("a request without a key got %d; want 401 (or 200 while plugins are inactive)", noKey)
}

// sluiceEnv is the environment of a DB-less sluice on the given ports.
func sluiceEnv(yml string, proxyPort, statusPort int) []string {
	return []string{
		"KONG_DATABASE=off",
		"KONG_DECLARATIVE_CONFIG=" + yml,
		"KONG_PROXY_LISTEN=127.0.0.1:" + strconv.Itoa(proxyPort),
		"KONG_STATUS_LISTEN=127.0.0.1:" + strconv.Itoa(statusPort),
		"KONG_ADMIN_LISTEN=off",
		"KONG_PROXY_ACCESS_LOG=off", // nginx runs with access_log off too
	}
}

// startSluice starts sluice with the config k. If sluice refuses the file
// (plugins or consumers it cannot load yet) it tries again without them and
// says so in the note rather than pretend.
func (h *harness) startSluice(ctx context.Context, name string, k confgen.Kong) (*target, error) {
	type variant struct {
		k    confgen.Kong
		note string
	}
	vs := []variant{{k, ""}}
	if k.Plugins {
		k2 := k
		k2.Plugins = false
		vs = append(vs, variant{k2, "plugins not loaded (sluice refused them)"})
	}
	if k.Consumers > 0 {
		k3 := k
		k3.Plugins, k3.Consumers = false, 0
		vs = append(vs, variant{k3, "plugins and consumers not loaded (sluice refused them)"})
	}
	var errs []error
	for i, v := range vs {
		t, err := h.trySluice(ctx, fmt.Sprintf("%s-%d", name, i), v.k)
		if err == nil {
			t.name = name
			if v.note != "" {
				t.note = v.note
			}
			if i > 0 {
				h.warnf("%s: %s; first error: %v", name, v.note, errs[0])
			}
			return t, nil
		}
		errs = append(errs, err)
		h.logf("%s: %v", name, err)
	}
	return nil, fmt.Errorf("%s: sluice did not start with any variant of its config: %w", name, errs[0])
}

func (h *harness) trySluice(ctx context.Context, name string, k confgen.Kong) (*target, error) {
	yml, err := confgen.KongYAML(k)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(h.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ymlPath := filepath.Join(dir, "kong.yml")
	if err := os.WriteFile(ymlPath, yml, 0o644); err != nil {
		return nil, err
	}
	pp, err := freePort()
	if err != nil {
		return nil, err
	}
	sp, err := freePort()
	if err != nil {
		return nil, err
	}
	stp, err := freePort()
	if err != nil {
		return nil, err
	}
	stats := "127.0.0.1:" + strconv.Itoa(stp)
	env := append(sluiceEnv(ymlPath, pp, sp), benchstats.Env+"="+stats)
	p, err := h.procs.start(h.tools, h.tmp, name, 1, env, h.sluiceBin, "start", "-p", filepath.Join(dir, "prefix"))
	if err != nil {
		return nil, err
	}
	status := fmt.Sprintf("http://127.0.0.1:%d/status/ready", sp)
	if err := waitFor(ctx, p, status, http.StatusOK, 120*time.Second); err != nil {
		p.stop(3 * time.Second)
		return nil, err
	}
	t := &target{name: name, addr: "127.0.0.1:" + strconv.Itoa(pp), proc: p, stats: stats}
	base := "http://" + t.addr + "/r0/small"
	if err := waitFor(ctx, p, base, http.StatusOK, 10*time.Second, confgen.KeyHeader, confgen.KeyFor(0)); err != nil {
		p.stop(3 * time.Second)
		return nil, fmt.Errorf("ready, but proxying failed: %w", err)
	}
	if k.Plugins {
		noKey, _, _, err := get(ctx, base)
		if err != nil {
			p.stop(3 * time.Second)
			return nil, err
		}
		withKey, hdr, _, err := get(ctx, base, confgen.KeyHeader, confgen.KeyFor(0))
		if err != nil {
			p.stop(3 * time.Second)
			return nil, err
		}
		if t.note, err = pluginNote(noKey, withKey, hdr); err != nil {
			p.stop(3 * time.Second)
			return nil, err
		}
	}
	return t, nil
}

// startNginx starts the reference proxy on a fresh port.
func (h *harness) startNginx(ctx context.Context) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(h.tmp, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf, err := confgen.NginxConf(confgen.Nginx{Listen: "127.0.0.1:" + strconv.Itoa(port), Upstream: h.upstreamAddr, Keepalive: h.keepalive, Dir: dir})
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		return nil, err
	}
	p, err := h.procs.start(h.tools, h.tmp, tNginx, 1, nil, h.tools.nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath)
	if err != nil {
		return nil, err
	}
	t := &target{name: tNginx, addr: "127.0.0.1:" + strconv.Itoa(port), proc: p}
	if err := waitFor(ctx, p, "http://"+t.addr+"/r0/small", http.StatusOK, 10*time.Second); err != nil {
		return nil, err
	}
	return t, nil
}

// startGoFloor starts the minimal httputil.ReverseProxy.
func (h *harness) startGoFloor(ctx context.Context) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	stp, err := freePort()
	if err != nil {
		return nil, err
	}
	stats := "127.0.0.1:" + strconv.Itoa(stp)
	p, err := h.procs.start(h.tools, h.tmp, tGoFloor, 1, []string{benchstats.Env + "=" + stats}, h.gofloorBin, "-listen", addr, "-upstream", h.upstreamAddr, "-keepalive", strconv.Itoa(h.keepalive))
	if err != nil {
		return nil, err
	}
	t := &target{name: tGoFloor, addr: addr, proc: p, stats: stats}
	if err := waitFor(ctx, p, "http://"+addr+"/r0/small", http.StatusOK, 10*time.Second); err != nil {
		return nil, err
	}
	return t, nil
}
