package correlationid_test

import (
	"strings"
	"testing"

	_ "sluice/internal/plugin/correlationid"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"correlation-id": `{"echo_downstream":true}`})
	res, body := g.Do(t, "GET", "/x", nil, "")
	up := proxytest.DecodeEcho(t, body).Headers.Get("Kong-Request-ID")
	if up == "" || res.Header.Get("Kong-Request-ID") != up {
		t.Errorf("upstream id %q, echoed %q; want the same generated id", up, res.Header.Get("Kong-Request-ID"))
	}
	if !strings.Contains(up, "#") {
		t.Errorf("default generator id %q; want uuid#counter", up)
	}
	res, body = g.Do(t, "GET", "/x", map[string]string{"Kong-Request-ID": "client-id"}, "")
	if got := proxytest.DecodeEcho(t, body).Headers.Get("Kong-Request-ID"); got != "client-id" || res.Header.Get("Kong-Request-ID") != "client-id" {
		t.Errorf("client id: upstream %q, echoed %q; want client-id", got, res.Header.Get("Kong-Request-ID"))
	}
}
