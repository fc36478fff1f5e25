package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

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

// followHealth applies the health events of the other nodes.
func followHealth(st store.Store, node string, pool *upstream.Pool, log *slog.Logger) {
	ev, ok := st.(store.Events)
	if !ok {
		return
	}
	ev.OnEvent(func(payload string) {
		var e healthEvent
		if json.Unmarshal([]byte(payload), &e) != nil || e.Kind != "target-health" || e.Node == node {
			return
		}
		if err := pool.SetHealthy(e.Upstream, e.Target, e.Address, e.Healthy); err != nil {
			log.Debug("target health from another node not applied", "upstream", e.Upstream, "target", e.Target, "error", err)
		}
	})
}
