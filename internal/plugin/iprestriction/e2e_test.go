package iprestriction_test

import (
	"testing"

	_ "sluice/internal/plugin/iprestriction"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	tests := []struct {
		name, cfg string
		status    int
		body      string
	}{
		{"allowed", `{"allow":["127.0.0.0/8"]}`, 200, ""},
		{"denied", `{"deny":["127.0.0.1"]}`, 403, "IP address not allowed: 127.0.0.1"},
		{"not in allow list", `{"allow":["10.0.0.0/8"],"status":401,"message":"nope"}`, 401, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"ip-restriction": tt.cfg})
			res, body := g.Do(t, "GET", "/x", nil, "")
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", res.StatusCode, tt.status, body)
			}
			if tt.body != "" {
				if got := proxytest.Message(t, body); got != tt.body {
					t.Errorf("message = %q; want %q", got, tt.body)
				}
			}
			if tt.status == 200 {
				proxytest.DecodeEcho(t, body)
			}
		})
	}
}
