package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Admin API's /debug/node/log-level changes the level of the
// process's logger: after PUT .../debug, debug records appear.
func TestDebugLogLevelWiring(t *testing.T) {
	adminPort := freePort(t)
	g := startGateway(t, goodConfig, "KONG_ADMIN_LISTEN=127.0.0.1:"+strconv.Itoa(adminPort), "KONG_LOG_LEVEL=notice")
	base := "http://127.0.0.1:" + strconv.Itoa(adminPort)
	call := func(method, path string) string {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return strconv.Itoa(res.StatusCode) + " " + string(b)
	}
	if got := call("GET", "/debug/node/log-level"); got != `200 {"message":"log level: notice"}` {
		t.Fatalf("GET log level: %s", got)
	}
	if strings.Contains(g.out.String(), "admin api request") {
		t.Fatalf("debug records logged at notice:\n%s", g.out.String())
	}
	if got := call("PUT", "/debug/node/log-level/debug"); got != `200 {"message":"log level changed"}` {
		t.Fatalf("PUT log level: %s", got)
	}
	call("GET", "/services")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(g.out.String(), "admin api request") {
		if time.Now().After(deadline) {
			t.Fatalf("no debug record after PUT debug:\n%s", g.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
