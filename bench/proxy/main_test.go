package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.dur != 10*time.Second || o.rounds != 3 || !reflect.DeepEqual(o.conns, []int{64, 256}) ||
		!reflect.DeepEqual(o.bodies, []string{"small", "16k"}) || !reflect.DeepEqual(o.targets, allTargets) || o.latencyDur != o.dur {
		t.Errorf("defaults = %+v; want 10s, 3 rounds, 64 and 256 conns, both bodies, every target", o)
	}
	o, err = parseFlags([]string{"-d", "2s", "-rounds", "1", "-conns", "8", "-bodies", "16k", "-targets", "nginx, go-floor"})
	if err != nil {
		t.Fatal(err)
	}
	if o.dur != 2*time.Second || o.rounds != 1 || !reflect.DeepEqual(o.conns, []int{8}) || !reflect.DeepEqual(o.targets, []string{tNginx, tGoFloor}) {
		t.Errorf("got %+v; want the flags' values", o)
	}
	bad := [][]string{
		{"-conns", "0"}, {"-conns", "6x"}, {"-conns", ""}, {"-bodies", "1m"}, {"-targets", "kong"},
		{"-d", "100ms"}, {"-rounds", "0"}, {"-keepalive", "0"},
	}
	for _, args := range bad {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) succeeded; want an error", args)
		}
	}
}

func TestPluginNote(t *testing.T) {
	rl := http.Header{"X-Ratelimit-Limit-Second": {"1000000000"}}
	tests := []struct {
		noKey, withKey int
		h              http.Header
		want           string // prefix; "" means an error
	}{
		{401, 200, rl, "key-auth and rate-limiting active"},
		{401, 200, nil, "key-auth active, rate-limiting inactive"},
		{200, 200, nil, "plugins inactive"},
		{200, 200, rl, "key-auth inactive"},
		{401, 401, nil, ""},
		{404, 200, nil, ""},
	}
	for _, tt := range tests {
		got, err := pluginNote(tt.noKey, tt.withKey, tt.h)
		if tt.want == "" {
			if err == nil {
				t.Errorf("pluginNote(%d, %d) = %q; want an error", tt.noKey, tt.withKey, got)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(got, tt.want) {
			t.Errorf("pluginNote(%d, %d, %v) = %q, %v; want %q", tt.noKey, tt.withKey, tt.h, got, err, tt.want)
		}
	}
}

func TestMixFor(t *testing.T) {
	m := mixFor(routesOf(tSluice10k), "16k")
	if p, k := m.Request(10001); p != "/r1/16k" || k != "key-1" {
		t.Errorf("request 10001 of the 10k mix = %q %q; want /r1/16k key-1", p, k)
	}
	if routesOf(tNginx) != 100 || routesOf(tSluiceKong) != 100 {
		t.Error("references and the Kong benchmark config should cycle through 100 routes")
	}
}

func TestMissingPackages(t *testing.T) {
	got := missingPackages(tools{nginx: "/usr/sbin/nginx"})
	if want := []string{"wrk", "util-linux"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
	if got := missingPackages(tools{nginx: "n", wrk: "w", taskset: "t"}); len(got) != 0 {
		t.Errorf("got %v; want nothing missing", got)
	}
}

// TestProcs starts a real child, waits for it to answer and stops it.
func TestProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the upstream")
	}
	ctx := context.Background()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := build(ctx, root, dir, "upstream", "./bench/proxy/upstream")
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	var ps procs
	defer ps.stopAll()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := ps.start(tools{}, dir, "up", -1, nil, bin, "-listen", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, p, "http://"+addr+"/16k", 200, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	code, _, body, err := get(ctx, "http://"+addr+"/r1/16k")
	if err != nil || code != 200 || len(body) != 16384 {
		t.Errorf("GET /r1/16k = %d, %d bytes, %v; want 200 and 16384 bytes", code, len(body), err)
	}
	ps.stopAll()
	if !p.exited() {
		t.Error("upstream still running after stopAll")
	}
	// A process that dies is reported with its output.
	q, err := ps.start(tools{}, dir, "dies", -1, nil, "sh", "-c", "echo boom; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	err = waitFor(ctx, q, "http://127.0.0.1:1/", 200, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("waitFor on a dead process: %v; want its exit status and output", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dies.log")); err != nil {
		t.Errorf("no log file: %v", err)
	}
}
