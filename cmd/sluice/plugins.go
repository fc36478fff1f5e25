package main

import (
	"slices"

	"sluice/internal/plugin"
	"sluice/internal/redisstore"
	"sluice/internal/settings"

	// The bundled plugins register themselves.
	_ "sluice/internal/bundled"
)

// enabledPlugins is kong.conf `plugins` as a set: nil enables every
// registered plugin ("bundled"), an empty set none ("off").
func enabledPlugins(s *settings.Settings) map[string]bool {
	if len(s.Plugins) == 0 || slices.Contains(s.Plugins, "bundled") {
		return nil
	}
	m := map[string]bool{}
	for _, n := range s.Plugins {
		if n != "off" {
			m[n] = true
		}
	}
	return m
}

// pluginDefinitions is the plugin lookup for snapshot.Env, restricted to
// the enabled plugins.
func pluginDefinitions(enabled map[string]bool) func(string) (*plugin.Definition, bool) {
	return func(name string) (*plugin.Definition, bool) {
		if enabled != nil && !enabled[name] {
			return nil, false
		}
		return plugin.Lookup(name)
	}
}

// redisCounters holds the Redis clients of rate-limiting's redis policy,
// shared by every snapshot for the life of the process.
var redisCounters = redisstore.NewPool()
