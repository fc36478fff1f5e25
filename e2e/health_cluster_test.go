package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestClusterTargetHealth: a target set unhealthy through one node's Admin
// API is unhealthy on the other node too (Kong broadcasts it as a cluster
// event), and healthy again when set so.
func TestClusterTargetHealth(t *testing.T) {
	env := pgClusterEnv(t)
	_, a := adminGateway(t, "postgres", env...)
	_, b := adminGateway(t, "postgres", env...)
	// passive health checks on: Kong refuses to set the health of a target
	// whose upstream has no health checker
	if code := adminPostForm(t, a, "/upstreams", url.Values{"name": {"u"},
		"healthchecks.passive.unhealthy.http_failures": {"3"}, "healthchecks.passive.healthy.successes": {"3"}}); code != 201 {
		t.Fatalf("create upstream: %d", code)
	}
	if code := adminPostForm(t, a, "/upstreams/u/targets", url.Values{"target": {"127.0.0.1:9"}}); code != 201 {
		t.Fatalf("create target: %d", code)
	}
	if code := adminPostForm(t, a, "/services", url.Values{"name": {"s"}, "host": {"u"}}); code != 201 {
		t.Fatalf("create service: %d", code)
	}
	health := func(base string) string {
		_, body := adminGet(t, base, "/upstreams/u/health")
		data, _ := body["data"].([]any)
		if len(data) != 1 {
			return ""
		}
		h, _ := data[0].(map[string]any)["health"].(string)
		return h
	}
	// both nodes serve the target before its health is changed (node 1
	// applies its own write from the store too)
	ready := func(base string) bool { h := health(base); return h != "" && h != "HEALTHCHECKS_OFF" }
	if _, ok := eventually(5*time.Second, func() bool { return ready(a) && ready(b) }); !ok {
		t.Fatal("the target did not reach both nodes")
	}
	for _, state := range []string{"unhealthy", "healthy"} {
		req, _ := http.NewRequest(http.MethodPut, a+"/upstreams/u/targets/127.0.0.1:9/"+state, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("PUT %s: %d %s (node 1 says %q)", state, res.StatusCode, msg, health(a))
		}
		want := strings.ToUpper(state)
		if _, ok := eventually(5*time.Second, func() bool { return health(b) == want }); !ok {
			t.Fatalf("after PUT %s on node 1, node 2 says %q; want %s", state, health(b), want)
		}
	}
}

// TestClusterProxyCachePurge: a proxy-cache purge through one node's Admin
// API empties the other node's cache too (Kong's proxy-cache:purge cluster
// event).
func TestClusterProxyCachePurge(t *testing.T) {
	env := pgClusterEnv(t)
	up := newBackend(t, "up")
	_, a := adminGateway(t, "postgres", env...)
	gb, b := adminGateway(t, "postgres", env...)
	for _, step := range []struct {
		path string
		form url.Values
	}{
		{"/services", url.Values{"name": {"s"}, "url": {up.url()}}},
		{"/services/s/routes", url.Values{"name": {"r"}, "paths[]": {"/cached"}}},
		{"/services/s/plugins", url.Values{"name": {"proxy-cache"}, "config.strategy": {"memory"},
			"config.content_type[]": {"application/json"}}},
	} {
		if code := adminPostForm(t, a, step.path, step.form); code != 201 {
			t.Fatalf("POST %s: %d", step.path, code)
		}
	}
	status := func() string {
		r, err := gb.do(request{path: "/cached"})
		if err != nil || r.status != 200 {
			return ""
		}
		return r.header.Get("X-Cache-Status")
	}
	// node 2 serves the route and caches its answer
	if _, ok := eventually(5*time.Second, func() bool { return status() == "Hit" }); !ok {
		t.Fatalf("node 2 never answered from its cache (X-Cache-Status %q)", status())
	}
	req, _ := http.NewRequest(http.MethodDelete, a+"/proxy-cache", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /proxy-cache on node 1: %d", res.StatusCode)
	}
	if _, ok := eventually(5*time.Second, func() bool { return status() == "Miss" }); !ok {
		t.Fatalf("node 2 still answers from its cache after node 1's purge")
	}
	_ = b
}
