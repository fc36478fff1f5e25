package iprestriction

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *IPRestriction {
	t.Helper()
	return proxytest.Instance[*IPRestriction](t, Schema, New, cfg)
}

func TestAccess(t *testing.T) {
	tests := []struct {
		name, cfg, remote string
		clientIP          string
		status            int
		body              string
	}{
		{"allowed by allow list", `{"allow":["10.0.0.0/8"]}`, "10.1.2.3:5000", "", 0, ""},
		{"real ip from the proxy wins", `{"allow":["10.0.0.0/8"]}`, "10.1.2.3:5000", "8.8.8.8", 403, "IP address not allowed: 8.8.8.8"},
		{"not in allow list", `{"allow":["10.0.0.0/8"]}`, "192.168.1.1:5000", "", 403, "IP address not allowed: 192.168.1.1"},
		{"in deny list", `{"deny":["192.168.1.1"]}`, "192.168.1.1:1", "", 403, "IP address not allowed: 192.168.1.1"},
		{"not in deny list", `{"deny":["192.168.1.1"]}`, "192.168.1.2:1", "", 0, ""},
		{"deny wins over allow", `{"allow":["10.0.0.0/8"],"deny":["10.0.0.5"]}`, "10.0.0.5:1", "", 403, "IP address not allowed: 10.0.0.5"},
		{"custom status and message", `{"deny":["0.0.0.0/0"],"status":401,"message":"go away"}`, "1.2.3.4:1", "", 401, "go away"},
		{"ipv6 cidr", `{"allow":["2001:db8::/32"]}`, "[2001:db8::1]:443", "", 0, ""},
		{"ipv6 outside", `{"allow":["2001:db8::/32"]}`, "[2001:db9::1]:443", "", 403, "IP address not allowed: 2001:db9::1"},
		{"cidr with host bits", `{"allow":["10.0.0.7/24"]}`, "10.0.0.200:1", "", 0, ""},
		{"unix socket", `{"allow":["10.0.0.0/8"]}`, "@", "", 403, "Cannot identify the client IP address, unix domain sockets are not supported."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.cfg)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			c := &plugin.Ctx{Request: r}
			if tt.clientIP != "" {
				c.ClientIP = tt.clientIP
			}
			p.Access(c)
			e := c.Exited()
			if tt.status == 0 {
				if e != nil {
					t.Fatalf("got exit %d %s; want pass", e.Status, e.Body)
				}
				return
			}
			if e == nil {
				t.Fatalf("got pass; want %d", tt.status)
			}
			if e.Status != tt.status || e.Message != tt.body || e.Body != nil {
				t.Errorf("got %d %q %q; want %d %q (Kong's kong.response.error)", e.Status, e.Message, e.Body, tt.status, tt.body)
			}
		})
	}
}

func TestSchema(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"neither list", `{}`, "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"},
		{"empty lists", `{"allow":[],"deny":[]}`, "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"},
		{"bad ip", `{"allow":["10.0.0.300"]}`, "allow.1"},
		{"bad cidr", `{"deny":["10.0.0.0/40"]}`, "deny.1"},
		{"unknown field", `{"allow":["1.2.3.4"],"whitelist":["1.2.3.4"]}`, "whitelist: unknown field"},
		{"status type", `{"allow":["1.2.3.4"],"status":"x"}`, "status: expected a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in map[string]any
			if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
				t.Fatal(err)
			}
			_, err := Schema.Process(in, nil)
			if err == nil {
				t.Fatalf("Process(%s) accepted; want error containing %q", tt.in, tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error = %q; want it to contain %q", err.Error(), tt.err)
			}
		})
	}
	rec, err := Schema.Process(map[string]any{"allow": []any{"1.2.3.4"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"deny", "status", "message"} {
		if v, ok := rec[k]; !ok || v != nil {
			t.Errorf("%s = %v, %v; want present and null", k, v, ok)
		}
	}
}

func TestRegistered(t *testing.T) {
	d, ok := plugin.Lookup(Name)
	if !ok || d.Priority != 990 {
		t.Fatalf("Lookup(%q) = %+v, %v; want priority 990", Name, d, ok)
	}
	if _, ok := plugin.SchemaLookup(nil)(Name); !ok {
		t.Error("schema not found through SchemaLookup")
	}
}

func BenchmarkAccess(b *testing.B) {
	p := build(b, `{"allow":["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16"],"deny":["10.9.9.9"]}`)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.168.5.5:4000"
	c := &plugin.Ctx{Request: r}
	b.ReportAllocs()
	for b.Loop() {
		p.Access(c)
	}
	if c.Exited() != nil {
		b.Fatal("request blocked")
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"allow":["10.0.0.0/8"]}`)
	f.Add(`{"deny":["::1"],"status":418,"message":"x"}`)
	f.Add(`{"allow":"x"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var in map[string]any
		if json.Unmarshal([]byte(s), &in) != nil {
			return
		}
		rec, err := Schema.Process(in, nil)
		if err != nil {
			return
		}
		if _, nerr := New(rec, plugin.Deps{}); nerr != nil {
			t.Fatalf("New rejected a config the schema accepted: %v (%s)", nerr, s)
		}
	})
}
