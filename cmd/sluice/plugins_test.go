package main

import (
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/settings"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

const pluginsYAML = `_format_version: "3.0"
services:
- name: orders
  url: http://127.0.0.1:9/
  routes:
  - name: orders
    paths: [/orders]
  plugins:
  - name: rate-limiting
    config:
      minute: %MINUTE%
      hour: 100
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-secret
plugins:
- name: key-auth
`

func TestPluginsWiring(t *testing.T) {
	tests := []struct {
		name    string
		plugins []string
		minute  string
		wantErr string
	}{
		{"bundled", []string{"bundled"}, "10", ""},
		{"order check", []string{"bundled"}, "1000", "cannot be lower than the limit for minute"},
		{"not enabled", []string{"key-auth"}, "10", "rate-limiting"},
		{"off", []string{"off"}, "10", "key-auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &settings.Settings{Plugins: tt.plugins}
			data := strings.ReplaceAll(pluginsYAML, "%MINUTE%", tt.minute)
			cfg, _, err := configSource{s}.parse([]byte(data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse error = %v; want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for _, p := range cfg.Plugins {
				if p.Name == "key-auth" {
					if names, _ := p.Config["key_names"].([]any); len(names) != 1 || names[0] != "apikey" {
						t.Errorf("key-auth config not defaulted: %v", p.Config)
					}
				}
			}
			pool := upstream.NewPool()
			defer pool.Close()
			snap, err := snapshot.Build(nil, cfg, "h", &snapshot.Env{Pool: pool,
				Plugins: pluginDefinitions(enabledPlugins(s)), State: plugin.NewStatePool()})
			if err != nil {
				t.Fatal(err)
			}
			ch := snap.Chains[cfg.Routes[0].ID]
			if ch.Len() != 2 {
				t.Fatalf("route chain has %d plugins; want 2 (key-auth, rate-limiting)", ch.Len())
			}
			if e := ch.Entries(); e[0].Name != "key-auth" || e[1].Name != "rate-limiting" || e[0].Base.Err != nil || e[1].Base.Err != nil {
				t.Errorf("chain = %s, %s; want key-auth then rate-limiting, both built", e[0].Name, e[1].Name)
			}
			if snap.Entities.KeyAuthCredential("alice-secret") == nil {
				t.Error("alice's key is not indexed")
			}
		})
	}
}
