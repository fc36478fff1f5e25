package e2e

import (
	"encoding/json"
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

// TestClusterOAuth2Token: an oauth2 token issued by one node is accepted by
// the other (sent as a cluster event), and a refresh on one node retires
// the old token on the other.
func TestClusterOAuth2Token(t *testing.T) {
	env := pgClusterEnv(t)
	up := newBackend(t, "up")
	ga, a := adminGateway(t, "postgres", env...)
	gb, _ := adminGateway(t, "postgres", env...)
	for _, step := range []struct {
		path string
		form url.Values
	}{
		{"/services", url.Values{"name": {"s"}, "url": {up.url()}}},
		{"/services/s/routes", url.Values{"name": {"r"}, "paths[]": {"/api"}}},
		{"/services/s/plugins", url.Values{"name": {"oauth2"}, "config.enable_authorization_code": {"true"},
			"config.enable_client_credentials": {"true"}}},
		{"/consumers", url.Values{"username": {"alice"}}},
		{"/consumers/alice/oauth2", url.Values{"name": {"app"}, "client_id": {"cid"}, "client_secret": {"sec"},
			"redirect_uris[]": {"https://app.example.com/cb"}}},
	} {
		if code := adminPostForm(t, a, step.path, step.form); code != 201 {
			t.Fatalf("POST %s: %d", step.path, code)
		}
	}
	get := func(g *gateway, token string) int {
		r, err := g.do(request{path: "/api/x", headers: map[string]string{"Authorization": "Bearer " + token}})
		if err != nil {
			return 0
		}
		return r.status
	}
	// both nodes serve the route (a request without a valid token: 401)
	for _, g := range []*gateway{ga, gb} {
		if _, ok := eventually(10*time.Second, func() bool { return get(g, "none") == 401 }); !ok {
			t.Fatalf("a node never served the oauth2 route")
		}
	}
	token := func(args string) map[string]any {
		r, err := ga.do(request{method: "POST", path: "/api/oauth2/token", tls: true,
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: args})
		if err != nil || r.status != 200 {
			t.Fatalf("token on node 1: %v %d %s", err, r.status, r.body)
		}
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := token("grant_type=client_credentials&client_id=cid&client_secret=sec")
	tok, _ := m["access_token"].(string)
	if _, ok := eventually(3*time.Second, func() bool { return get(gb, tok) == 200 }); !ok {
		t.Fatalf("node 2 refuses node 1's token: %d", get(gb, tok))
	}
	if get(ga, tok) != 200 {
		t.Fatal("node 1 refuses its own token")
	}
	// authorization code: a code from node 1 is exchanged on node 1, the
	// refresh token is used on node 2's view of it
	r, err := ga.do(request{method: "POST", path: "/api/oauth2/authorize", tls: true,
		headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		body:    "response_type=code&client_id=cid&authenticated_userid=u1&provision_key=" + provisionKey(t, a)})
	if err != nil || r.status != 200 {
		t.Fatalf("authorize: %v %d %s", err, r.status, r.body)
	}
	var red struct {
		RedirectURI string `json:"redirect_uri"`
	}
	_ = json.Unmarshal(r.body, &red)
	u, _ := url.Parse(red.RedirectURI)
	m = token("grant_type=authorization_code&client_id=cid&client_secret=sec&code=" + u.Query().Get("code"))
	old, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	if _, ok := eventually(3*time.Second, func() bool { return get(gb, old) == 200 }); !ok {
		t.Fatal("node 2 refuses the code's token")
	}
	m = token("grant_type=refresh_token&client_id=cid&client_secret=sec&refresh_token=" + refresh)
	if m["access_token"] == old {
		t.Fatal("refresh gave the same access token")
	}
	if _, ok := eventually(3*time.Second, func() bool { return get(gb, old) == 401 }); !ok {
		t.Fatal("node 2 still accepts the token refreshed away on node 1")
	}
}

// provisionKey reads the oauth2 plugin's generated provision_key.
func provisionKey(t *testing.T, admin string) string {
	t.Helper()
	res, err := http.Get(admin + "/plugins")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct {
		Data []struct {
			Name   string         `json:"name"`
			Config map[string]any `json:"config"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Data {
		if k, _ := p.Config["provision_key"].(string); p.Name == "oauth2" && k != "" {
			return k
		}
	}
	t.Fatal("no oauth2 plugin with a provision_key")
	return ""
}
