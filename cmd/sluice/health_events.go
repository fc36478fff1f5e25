package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"sluice/internal/plugin"
	"sluice/internal/store"
	"sluice/internal/upstream"
)

// healthEvent is a target's health set through one node's Admin API, sent
// to the other nodes of the cluster (Kong broadcasts it as a cluster
// event, so every node's balancer agrees).
type healthEvent struct {
	Kind     string `json:"kind"` // "target-health"
	Node     string `json:"node"`
	Upstream string `json:"upstream"`
	Target   string `json:"target"`
	Address  string `json:"address,omitempty"`
	Healthy  bool   `json:"healthy"`
}

// publishHealth sends e to the cluster when the store is shared (a
// PostgreSQL cluster); failures are logged, the local change stands.
func publishHealth(st store.Store, node string, log *slog.Logger, e healthEvent) {
	ev, ok := st.(store.Events)
	if !ok {
		return
	}
	e.Kind, e.Node = "target-health", node
	b, err := json.Marshal(e)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = ev.Publish(ctx, string(b))
		cancel()
	}
	if err != nil {
		log.Warn("target health not sent to the other nodes", "upstream", e.Upstream, "target", e.Target, "error", err)
	}
}

// pluginEvent is a plugin's cluster event (plugin.Broadcast) on the wire.
type pluginEvent struct {
	Kind   string `json:"kind"` // "plugin"
	Node   string `json:"node"`
	Plugin string `json:"plugin"` // the event's kind for plugin.DeliverClusterEvent
	Data   []byte `json:"data"`
}

// clusterEvents connects plugin.Broadcast to the store's events and
// applies the other nodes' events: target health and plugins' (a
// proxy-cache purge). It does nothing without a shared store.
func clusterEvents(st store.Store, node string, pool *upstream.Pool, log *slog.Logger) {
	ev, ok := st.(store.Events)
	if !ok {
		return
	}
	plugin.SetClusterPublisher(func(kind string, data []byte) {
		b, err := json.Marshal(pluginEvent{Kind: "plugin", Node: node, Plugin: kind, Data: data})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = ev.Publish(ctx, string(b))
			cancel()
		}
		if err != nil {
			log.Warn("plugin event not sent to the other nodes", "event", kind, "error", err)
		}
	})
	ev.OnEvent(func(payload string) {
		var head struct{ Kind, Node string }
		if json.Unmarshal([]byte(payload), &head) != nil || head.Node == node {
			return
		}
		switch head.Kind {
		case "target-health":
			var e healthEvent
			if json.Unmarshal([]byte(payload), &e) != nil {
				return
			}
			if err := pool.SetHealthy(e.Upstream, e.Target, e.Address, e.Healthy); err != nil {
				log.Debug("target health from another node not applied", "upstream", e.Upstream, "target", e.Target, "error", err)
			}
		case "plugin":
			var e pluginEvent
			if json.Unmarshal([]byte(payload), &e) == nil && !plugin.DeliverClusterEvent(e.Plugin, e.Data) {
				log.Debug("plugin event from another node with no handler", "event", e.Plugin)
			}
		}
	})
}
