package ratelimiting

import (
	"strings"
	"testing"
	"time"
)

func TestStoreTake(t *testing.T) {
	s := NewStore(0)
	ws := []window{{period: 1, limit: 2, start: 60, expiry: 60}, {period: 2, limit: 3, start: 0, expiry: 3600}}
	want := []int{-1, -1, 0, 0}
	for i, w := range want {
		if got := s.take("a", ws, 61); got != w {
			t.Fatalf("take %d = %d; want %d", i+1, got, w)
		}
	}
	// Next minute: the minute window is fresh, the hour has 2 of 3 used.
	ws[0].start = 120
	if got := s.take("a", ws, 121); got != -1 {
		t.Fatalf("next minute: take = %d; want -1", got)
	}
	if got := s.take("a", ws, 122); got != 1 {
		t.Fatalf("hour exhausted: take = %d; want 1 (the hour window)", got)
	}
	if ws[1].usage != 3 {
		t.Errorf("hour usage = %d; want 3", ws[1].usage)
	}
	// Another identifier has its own counters.
	if got := s.take("b", ws, 122); got != -1 {
		t.Errorf("other identifier: take = %d; want -1", got)
	}
}

func TestStoreBounded(t *testing.T) {
	s := NewStore(100)
	ws := []window{{period: 0, limit: 10, start: 1000, expiry: 1}}
	for i := 0; i < 1000; i++ {
		ws[0].start = 1000 + int64(i/10) // windows expire as time passes
		s.take(strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), ws, ws[0].start)
		if n := s.Len(); n > 100 {
			t.Fatalf("after %d takes the store holds %d keys; want <= 100", i+1, n)
		}
	}
	// Full of live windows: still bounded.
	s2 := NewStore(50)
	ws[0].start, ws[0].expiry = 0, 1<<40
	for i := 0; i < 500; i++ {
		s2.take(time.Duration(i).String(), ws, 1)
	}
	if n := s2.Len(); n > 50 || n == 0 {
		t.Errorf("store of live windows holds %d keys; want 1..50", n)
	}
}

func TestSchema(t *testing.T) {
	tests := []struct {
		in      map[string]any
		wantErr string // substring of the error; "" = valid
	}{
		{map[string]any{"minute": 5}, ""},
		{map[string]any{}, "at least one of these fields must be non-empty"},
		{map[string]any{"minute": 20, "hour": 10}, "The limit for hour(10.0) cannot be lower than the limit for minute(20.0)"},
		{map[string]any{"minute": 0}, "value must be greater than 0"},
		{map[string]any{"minute": 5, "limit_by": "header"}, "header_name"},
		{map[string]any{"minute": 5, "limit_by": "header", "header_name": "X-Tenant"}, ""},
		{map[string]any{"minute": 5, "limit_by": "path"}, "path"},
		{map[string]any{"minute": 5, "policy": "redis"}, "host"},
		{map[string]any{"minute": 5, "policy": "redis", "redis": map[string]any{"host": "r1"}}, ""},
		{map[string]any{"minute": 5, "policy": "redis", "redis_host": "r1", "redis_port": 6380}, ""},
		{map[string]any{"minute": 5, "policy": "memcached"}, "expected one of"},
		{map[string]any{"minute": 5, "bogus": 1}, "unknown field"},
	}
	for _, tt := range tests {
		rec, err := Schema.Process(tt.in, nil)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%v: %v; want valid", tt.in, err)
				continue
			}
			for k, v := range map[string]any{"limit_by": "consumer", "policy": "local", "fault_tolerant": true,
				"hide_client_headers": false, "error_message": "API rate limit exceeded"} {
				if _, given := tt.in[k]; !given && rec[k] != v {
					t.Errorf("%v: default %s = %v; want %v", tt.in, k, rec[k], v)
				}
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: valid; want error containing %q", tt.in, tt.wantErr)
		} else if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %q; want it to contain %q", tt.in, err.Error(), tt.wantErr)
		}
	}
}
