package reload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/filelog"
	"sluice/internal/plugin/httplog"
	"sluice/internal/proxy"
	"sluice/internal/proxytest"
	"sluice/internal/reload"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// sink counts the http-log entries it receives by path.
type sink struct {
	mu  sync.Mutex
	got map[string][]string // path -> request ids (the X-N header)
}

type logRecord struct {
	Request struct {
		Headers map[string]any `json:"headers"`
	} `json:"request"`
}

// ServeHTTP takes one record or a batch (a JSON array).
func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var batch []logRecord
	if bytes.HasPrefix(b, []byte("[")) {
		if err := json.Unmarshal(b, &batch); err != nil {
			w.WriteHeader(400)
			return
		}
	} else {
		var e logRecord
		if err := json.Unmarshal(b, &e); err != nil {
			w.WriteHeader(400)
			return
		}
		batch = append(batch, e)
	}
	s.mu.Lock()
	for _, e := range batch {
		n, _ := e.Request.Headers["x-n"].(string)
		s.got[r.URL.Path] = append(s.got[r.URL.Path], n)
	}
	s.mu.Unlock()
}

func (s *sink) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got[path])
}

// fileLines returns the X-N header of each complete line of a file-log
// file (a line still being written is left out).
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range bytes.SplitAfter(b[:bytes.LastIndexByte(b, '\n')+1], []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var e struct {
			Request struct {
				Headers map[string]any `json:"headers"`
			} `json:"request"`
		}
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("%s: line %q: %v", path, l, err)
		}
		n, _ := e.Request.Headers["x-n"].(string)
		out = append(out, n)
	}
	return out
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestReplacedPluginsClosed reloads 50 configurations that each change a
// file-log path and an http-log endpoint, next to a file-log and an
// http-log that never change, with one request per configuration through a
// real proxy. Every changed instance is closed once its snapshot is gone
// (after writing what it had queued): goroutines and open files come back
// to the baseline, and the unchanged plugins lose no entry.
func TestReplacedPluginsClosed(t *testing.T) {
	dir := t.TempDir()
	col := &sink{got: map[string][]string{}}
	colSrv := httptest.NewServer(col)
	defer colSrv.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()

	pool := upstream.NewPool()
	defer pool.Close()
	var cur snapshot.Current
	rl := reload.New(&cur, &snapshot.Env{Pool: pool, Plugins: plugin.Lookup}, nil)
	px := proxy.New(&cur, proxy.Options{})
	defer px.Close()
	front := httptest.NewServer(px)
	defer front.Close()

	steadyFile := filepath.Join(dir, "steady.log")
	// config i: route /s has the steady plugins, route /c the changing
	// ones.
	config := func(i int) *model.Config {
		cfg := proxytest.Config(t, up.URL, map[string]string{
			"file-log": `{"path":"` + steadyFile + `"}`,
			"http-log": `{"http_endpoint":"` + colSrv.URL + `/steady"}`,
		})
		rs := cfg.Routes[0]
		rc := *rs
		rs.Paths, rc.Paths = []string{"/s"}, []string{"/c"}
		rc.ID = "00000000-0000-4000-8000-000000000003"
		cfg.Routes = append(cfg.Routes, &rc)
		for _, p := range cfg.Plugins {
			p.Route = &model.ForeignKey{ID: rs.ID}
		}
		changing := proxytest.Config(t, up.URL, map[string]string{
			"file-log": fmt.Sprintf(`{"path":"%s/changing-%d.log"}`, dir, i),
			"http-log": fmt.Sprintf(`{"http_endpoint":"%s/changing/%d"}`, colSrv.URL, i),
		})
		for j, p := range changing.Plugins {
			p.ID = fmt.Sprintf("00000000-0000-4000-8000-0000000001%02d", j)
			p.Route = &model.ForeignKey{ID: rc.ID}
		}
		cfg.Plugins = append(cfg.Plugins, changing.Plugins...)
		return cfg
	}
	client := &http.Client{}
	get := func(n int) {
		for _, path := range []string{"/s", "/c"} {
			req, _ := http.NewRequest("GET", front.URL+path, nil)
			req.Header.Set("X-N", fmt.Sprint(n))
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("request %d %s: status %d", n, path, res.StatusCode)
			}
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for range 500 {
			if cond() {
				return
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}

	if err := rl.Apply(config(0), ""); err != nil {
		t.Fatal(err)
	}
	get(0)
	waitFor("the first entries", func() bool {
		return col.count("/steady") == 1 && col.count("/changing/0") == 1 && len(fileLines(t, steadyFile)) == 1
	})
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	const reloads = 50
	for i := 1; i <= reloads; i++ {
		if err := rl.Apply(config(i), ""); err != nil {
			t.Fatal(err)
		}
		get(i)
	}
	// Each changing instance wrote its one entry before it was closed.
	waitFor("every changing plugin's entry", func() bool {
		for i := 0; i <= reloads; i++ {
			if col.count(fmt.Sprintf("/changing/%d", i)) != 1 || len(fileLines(t, fmt.Sprintf("%s/changing-%d.log", dir, i))) != 1 {
				return false
			}
		}
		return true
	})
	var g, fd int
	for range 500 {
		runtime.GC()
		g, fd = runtime.NumGoroutine(), openFDs(t)
		if g <= baseG && fd <= baseFD {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if g > baseG || fd > baseFD {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("after %d reloads: %d goroutines (baseline %d), %d open files (baseline %d)\n%s", reloads, g, baseG, fd, baseFD, buf)
	}
	// Only the last configuration's instances (and the steady ones) are
	// still held.
	if n := snapshot.HeldInstances(); n != 4 {
		t.Errorf("%d plugin instances held; want 4 (the serving snapshot's)", n)
	}
	// The unchanged plugins kept every entry across the reloads, in order.
	waitFor("every steady entry", func() bool {
		return col.count("/steady") == reloads+1 && len(fileLines(t, steadyFile)) == reloads+1
	})
	lines := fileLines(t, steadyFile)
	for i, n := range lines {
		if n != fmt.Sprint(i) {
			t.Fatalf("steady file line %d is request %q; want %d (lines %v)", i, n, i, strings.Join(lines, ","))
		}
	}
	if got := col.count("/steady"); got != reloads+1 {
		t.Fatalf("steady collector got %d entries; want %d", got, reloads+1)
	}
	t.Logf("after %d reloads: %d goroutines (baseline %d), %d open files (baseline %d)", reloads, g, baseG, fd, baseFD)
}

// TestCloseAllPluginsFlushes is the graceful stop: every instance is closed
// at once, the log plugins write and send what they queued, and their
// workers stop; the snapshot's later collection closes nothing twice.
func TestCloseAllPluginsFlushes(t *testing.T) {
	col := &sink{got: map[string][]string{}}
	colSrv := httptest.NewServer(col)
	defer colSrv.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	path := filepath.Join(t.TempDir(), "final.log")
	pool := upstream.NewPool()
	defer pool.Close()
	var cur snapshot.Current
	rl := reload.New(&cur, &snapshot.Env{Pool: pool, Plugins: plugin.Lookup}, nil)
	if err := rl.Apply(proxytest.Config(t, up.URL, map[string]string{
		"file-log": `{"path":"` + path + `"}`,
		"http-log": `{"http_endpoint":"` + colSrv.URL + `/final","queue":{"max_batch_size":50,"max_coalescing_delay":3600}}`,
	}), ""); err != nil {
		t.Fatal(err)
	}
	px := proxy.New(&cur, proxy.Options{})
	defer px.Close()
	front := httptest.NewServer(px)
	const n = 20
	for i := range n {
		req, _ := http.NewRequest("GET", front.URL+"/f", nil)
		req.Header.Set("X-N", fmt.Sprint(i))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	front.Close() // waits for the requests, log phases included
	// The batch of 20 waits for 50 entries or an hour: only the stop
	// sends it.
	if got := col.count("/final"); got != 0 {
		t.Fatalf("collector got %d entries before the stop; want 0 (batch not full)", got)
	}
	snapshot.CloseAllPlugins()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := filelog.Wait(ctx); err != nil {
		t.Fatalf("file-log writers still running: %v", err)
	}
	if err := httplog.Wait(ctx); err != nil {
		t.Fatalf("http-log queues still running: %v", err)
	}
	if got := len(fileLines(t, path)); got != n {
		t.Errorf("file has %d lines; want %d", got, n)
	}
	if got := col.count("/final"); got != n {
		t.Errorf("collector got %d entries; want %d", got, n)
	}
	if n := snapshot.HeldInstances(); n != 0 {
		t.Errorf("%d instances still held", n)
	}
	cur.Store(nil)
	runtime.GC()
	runtime.GC()
	runtime.KeepAlive(rl)
}
