package postgres

import (
	"crypto/tls"
	"testing"
	"time"
)

func TestConnConfig(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		tls     bool
		verify  bool
		fallNoT bool // a plain-text fallback exists (sslmode=prefer)
		minVer  uint16
	}{
		{"off", Options{}, false, false, false, 0},
		{"prefer", Options{SSL: true}, true, false, true, tls.VersionTLS12},
		{"required", Options{SSL: true, SSLRequired: true}, true, false, false, tls.VersionTLS12},
		{"verify", Options{SSL: true, SSLVerify: true, SSLVersion: "tlsv1_3"}, true, true, false, tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.o.ConnConfig()
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.TLSConfig != nil; got != tt.tls {
				t.Fatalf("TLS %v; want %v", got, tt.tls)
			}
			if tt.tls {
				if got := !cfg.TLSConfig.InsecureSkipVerify; got != tt.verify {
					t.Fatalf("verify %v; want %v", got, tt.verify)
				}
				if cfg.TLSConfig.MinVersion != tt.minVer {
					t.Fatalf("min TLS %x; want %x", cfg.TLSConfig.MinVersion, tt.minVer)
				}
			}
			plain := false
			for _, fb := range cfg.Fallbacks {
				if fb.TLSConfig == nil {
					plain = true
				}
			}
			if plain != tt.fallNoT {
				t.Fatalf("plain-text fallback %v; want %v", plain, tt.fallNoT)
			}
		})
	}
	o := Options{Host: "db.internal", Port: 6543, Database: "d b", User: "o'neil", Password: `p\'w d`, Schema: "s", Timeout: 1500 * time.Millisecond}
	cfg, err := o.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "db.internal" || cfg.Port != 6543 || cfg.Database != "d b" || cfg.User != "o'neil" || cfg.Password != `p\'w d` {
		t.Fatalf("config %s:%d %q %q %q", cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password)
	}
	if cfg.RuntimeParams["search_path"] != "s" || cfg.ConnectTimeout != 1500*time.Millisecond {
		t.Fatalf("search_path %q, timeout %v", cfg.RuntimeParams["search_path"], cfg.ConnectTimeout)
	}
	if _, err := (Options{SSL: true, SSLVersion: "sslv3"}).ConnConfig(); err == nil {
		t.Fatal("unknown pg_ssl_version accepted")
	}
	d, err := Options{}.ConnConfig()
	if err != nil || d.Host != "127.0.0.1" || d.Port != 5432 || d.Database != "kong" || d.User != "kong" {
		t.Fatalf("defaults: %v %v", d, err)
	}
}
