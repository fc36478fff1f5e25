package prometheus

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
)

// TargetState is the health of one address of an upstream target, as
// Kong's balancer.get_upstream_health reports it: State is
// healthchecks_off, healthy, unhealthy or dns_error (then Address is
// empty).
type TargetState struct {
	Upstream, Target, Address, State string
}

// Connections are the proxy listeners' counters with nginx stub_status
// semantics (Kong's kong.nginx.get_statistics()).
type Connections struct {
	Accepted, Handled, Total, Active, Reading, Writing, Waiting int64
}

// Node is what WriteMetrics reads at scrape time from outside the plugin;
// cmd/sluice sets it with SetNode. A nil function leaves its metrics out.
type Node struct {
	ID, Version string
	// Connections returns the listener counters (kong_nginx_*).
	Connections func() Connections
	// TargetHealth calls yield for every address of every target of every
	// upstream (kong_upstream_target_health); it must not block.
	TargetHealth func(yield func(TargetState))
	// Memory returns the process's memory (kong_memory_*).
	Memory func() Memory
}

// Memory is what Kong's kong.node.get_memory_stats() reports, in sluice's
// terms: one process (PID) whose Go heap in use stands for a worker's Lua
// VM, and sluice's bounded in-memory components (caches, queues,
// snapshots) for the lua_shared_dicts; Capacity 0 means no fixed capacity
// (no _total_bytes series).
type Memory struct {
	PID     int
	VMBytes int64
	Dicts   []Dict
}

// Dict is one in-memory component.
type Dict struct {
	Name            string
	Bytes, Capacity int64
}

var node atomic.Pointer[Node]

// SetNode sets what WriteMetrics reads.
func SetNode(n Node) { node.Store(&n) }

// MaxTargetSeries caps the addresses written to kong_upstream_target_health
// in one scrape (each is four series, one per state).
const MaxTargetSeries = 10000

// targetStates are the states in Kong's order; each address gets one
// series per state, 1 for its current state and 0 for the others.
var targetStates = [...]string{"healthchecks_off", "healthy", "unhealthy", "dns_error"}

// WriteMetrics writes the metrics Kong's exporter fills at scrape time:
// kong_nginx_connections_total, kong_nginx_requests_total, kong_node_info,
// kong_memory_* and, while an instance has upstream_health_metrics on,
// kong_upstream_target_health. It is an extra writer for metrics.Handler.
func WriteMetrics(w io.Writer) error {
	n := node.Load()
	if n == nil {
		return nil
	}
	bw := bufio.NewWriter(w)
	if n.Connections != nil {
		c := n.Connections()
		header(bw, "kong_nginx_connections_total", "Number of connections by subsystem")
		for _, s := range [...]struct {
			state string
			v     int64
		}{{"accepted", c.Accepted}, {"handled", c.Handled}, {"total", c.Total}, {"active", c.Active},
			{"reading", c.Reading}, {"writing", c.Writing}, {"waiting", c.Waiting}} {
			sample(bw, "kong_nginx_connections_total", s.v, "node_id", n.ID, "subsystem", "http", "state", s.state)
		}
		header(bw, "kong_nginx_requests_total", "Number of requests total")
		sample(bw, "kong_nginx_requests_total", c.Total, "node_id", n.ID, "subsystem", "http")
	}
	if n.ID != "" {
		header(bw, "kong_node_info", "Kong Node metadata information")
		sample(bw, "kong_node_info", 1, "node_id", n.ID, "version", n.Version)
	}
	if n.Memory != nil {
		m := n.Memory()
		header(bw, "kong_memory_lua_shared_dict_bytes", "Allocated slabs in bytes in a shared_dict")
		for _, d := range m.Dicts {
			sample(bw, "kong_memory_lua_shared_dict_bytes", d.Bytes, "node_id", n.ID, "shared_dict", d.Name, "kong_subsystem", "http")
		}
		header(bw, "kong_memory_lua_shared_dict_total_bytes", "Total capacity in bytes of a shared_dict")
		for _, d := range m.Dicts {
			if d.Capacity > 0 {
				sample(bw, "kong_memory_lua_shared_dict_total_bytes", d.Capacity, "node_id", n.ID, "shared_dict", d.Name, "kong_subsystem", "http")
			}
		}
		header(bw, "kong_memory_workers_lua_vms_bytes", "Allocated bytes in worker Lua VM")
		sample(bw, "kong_memory_workers_lua_vms_bytes", m.VMBytes, "node_id", n.ID, "pid", strconv.Itoa(m.PID), "kong_subsystem", "http")
	}
	if n.TargetHealth != nil && healthInstances.Load() > 0 {
		header(bw, "kong_upstream_target_health",
			"Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.")
		written := 0
		n.TargetHealth(func(ts TargetState) {
			if written >= MaxTargetSeries {
				return
			}
			written++
			for _, st := range targetStates {
				v := int64(0)
				if st == ts.State {
					v = 1
				}
				sample(bw, "kong_upstream_target_health", v, "upstream", ts.Upstream, "target", ts.Target,
					"address", ts.Address, "state", st, "subsystem", "http")
			}
		})
	}
	return bw.Flush()
}

func header(w *bufio.Writer, name, help string) {
	w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n")
}

// sample writes one line; kv are label names and values in turn.
func sample(w *bufio.Writer, name string, v int64, kv ...string) {
	w.WriteString(name)
	for i := 0; i+1 < len(kv); i += 2 {
		if i == 0 {
			w.WriteByte('{')
		} else {
			w.WriteByte(',')
		}
		w.WriteString(kv[i])
		w.WriteString(`="`)
		w.WriteString(labelEscaper.Replace(kv[i+1]))
		w.WriteByte('"')
	}
	if len(kv) > 0 {
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(strconv.FormatInt(v, 10))
	w.WriteByte('\n')
}

// labelEscaper escapes a label value for the text format 0.0.4.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
