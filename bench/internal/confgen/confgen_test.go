package confgen

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sluice/internal/declarative"
)

// TestKongYAMLLoads parses each generated file with sluice's own
// declarative loader and checks the entity counts.
func TestKongYAMLLoads(t *testing.T) {
	tests := []struct {
		name                                   string
		k                                      Kong
		services, routes, consumers, creds, pl int
	}{
		{"one route", Kong{Upstream: "http://127.0.0.1:9000"}, 1, 1, 0, 0, 0},
		{"kong benchmark", Kong{Upstream: "http://127.0.0.1:9000", Services: 100, Consumers: 100, Plugins: true}, 100, 100, 100, 100, 2},
		{"routes only", Kong{Upstream: "http://127.0.0.1:9000", Services: 20, Consumers: 5}, 20, 20, 5, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := KongYAML(tt.k)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := declarative.Parse(data, nil)
			if err != nil {
				t.Fatalf("declarative.Parse: %v\n%s", err, data[:min(len(data), 600)])
			}
			got := []int{len(cfg.Services), len(cfg.Routes), len(cfg.Consumers), len(cfg.KeyAuthCredentials), len(cfg.Plugins)}
			want := []int{tt.services, tt.routes, tt.consumers, tt.creds, tt.pl}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("counts (services, routes, consumers, credentials, plugins) = %v; want %v", got, want)
					break
				}
			}
			if tt.k.Services == 0 && len(cfg.Routes) == 1 {
				r := cfg.Routes[0]
				if len(r.Paths) != 1 || r.Paths[0] != "/" || r.StripPath {
					t.Errorf("catch-all route = paths %v strip_path %v; want [/] false", r.Paths, r.StripPath)
				}
			}
		})
	}
}

func TestKongYAMLRejects(t *testing.T) {
	for _, k := range []Kong{{Upstream: "127.0.0.1:9000"}, {Upstream: "http://x\"y"}, {Upstream: "http://x", Services: -1}} {
		if _, err := KongYAML(k); err == nil {
			t.Errorf("KongYAML(%+v) succeeded; want an error", k)
		}
	}
}

// TestNginxConf checks the file with nginx -t when nginx is installed.
func TestNginxConf(t *testing.T) {
	dir := t.TempDir()
	data, err := NginxConf(Nginx{Listen: "127.0.0.1:18080", Upstream: "127.0.0.1:18081", Keepalive: 64, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"keepalive 64;", "proxy_http_version 1.1;", `proxy_set_header Connection "";`, "worker_processes 1;", "access_log off;", "listen 127.0.0.1:18080"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if _, err := NginxConf(Nginx{Listen: "1; evil", Upstream: "x", Keepalive: 1, Dir: dir}); err == nil {
		t.Error("NginxConf with a ';' in listen succeeded; want an error")
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			t.Skip("nginx not installed")
		}
		bin = "/usr/sbin/nginx"
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-e", filepath.Join(dir, "e.log"), "-c", conf).CombinedOutput(); err != nil {
		t.Errorf("nginx -t: %v\n%s", err, out)
	}
}
