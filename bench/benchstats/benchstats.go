// Package benchstats lets the benchmark harness look inside a Go proxy
// under test. Imported by the Go floor, and compiled into the sluice binary
// that the harness builds (through a `go build -overlay` file, never in the
// repository's cmd/sluice), it serves, when BENCHSTATS_LISTEN is
// set, on that address:
//
//   - /stats: JSON counters from runtime/metrics (objects and bytes
//     allocated so far, GC cycles), so that the harness can compute
//     allocations per proxied request;
//   - /debug/pprof/: the standard profiles (CPU, heap, allocs).
//
// Without the variable it does nothing.
package benchstats

import (
	"encoding/json"
	"log"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/metrics"
)

// Env names the variable holding the listen address.
const Env = "BENCHSTATS_LISTEN"

// Stats are cumulative counters since the process started.
type Stats struct {
	AllocObjects uint64 `json:"alloc_objects"` // heap objects allocated
	AllocBytes   uint64 `json:"alloc_bytes"`   // heap bytes allocated
	GCCycles     uint64 `json:"gc_cycles"`
}

var names = []string{"/gc/heap/allocs:objects", "/gc/heap/allocs:bytes", "/gc/cycles/total:gc-cycles"}

// Read samples the counters.
func Read() Stats {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return Stats{AllocObjects: v(0), AllocBytes: v(1), GCCycles: v(2)}
}

// Handler serves /stats and /debug/pprof/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(Read()); err != nil {
			log.Printf("benchstats: %v", err)
		}
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}

func init() {
	addr := os.Getenv(Env)
	if addr == "" {
		return
	}
	go func() {
		log.Printf("benchstats: %v", http.ListenAndServe(addr, Handler()))
	}()
}
