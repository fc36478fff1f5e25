package server

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"sluice/internal/memwatch"
)

// emptyHash is Kong's configuration_hash when no configuration is loaded.
const emptyHash = "00000000000000000000000000000000"

// Ready reports whether the node can serve, with Kong's reason when not:
// the database must answer; in DB-less mode a configuration with a
// non-empty hash must be loaded, otherwise any built configuration will do.
// While draining the node is not ready ("shutting down").
func (s *Server) Ready(ctx context.Context) (bool, string) {
	if s.draining.Load() {
		return false, "shutting down"
	}
	if s.opts.DBReachable != nil {
		if err := s.opts.DBReachable(ctx); err != nil {
			return false, "failed to connect to database"
		}
	}
	snap := s.opts.Current.Load()
	if s.opts.DBless {
		if snap == nil {
			return false, "no configuration available (configuration hash is not initialized)"
		}
		if snap.Hash == "" || snap.Hash == emptyHash {
			return false, "no configuration available (empty configuration present)"
		}
		return true, ""
	}
	if snap == nil {
		return false, "router builds not yet complete"
	}
	return true, ""
}

// StatusHandler serves GET /status and GET /status/ready (Kong's shapes);
// the admin API mounts it too.
func (s *Server) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimSuffix(r.URL.Path, "/") {
		case "/status":
			if !getOnly(w, r) {
				return
			}
			s.serveStatus(w, r)
		case "/status/ready":
			if !getOnly(w, r) {
				return
			}
			ok, msg := s.Ready(r.Context())
			if !ok {
				s.log.Warn("not ready: " + msg)
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": msg})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"message": "ready"})
		default:
			if s.opts.StatusExtra != nil {
				s.opts.StatusExtra.ServeHTTP(w, r)
				return
			}
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found"})
		}
	})
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Method not allowed"})
	return false
}

// StatusBody is Kong's GET /status response.
type StatusBody struct {
	Database          StatusDatabase `json:"database"`
	Memory            StatusMemory   `json:"memory"`
	Server            Stats          `json:"server"`
	ConfigurationHash string         `json:"configuration_hash"`
	// Sluice holds sluice's own fields (config versions, store lag,
	// reloads); absent in Kong.
	Sluice map[string]any `json:"sluice,omitempty"`
}

// StatusDatabase is the database block of GET /status.
type StatusDatabase struct {
	Reachable bool `json:"reachable"`
}

// StatusMemory is the memory block of GET /status. sluice is one Go
// process: workers_lua_vms has one entry whose http_allocated_gc is the Go
// heap in use, and lua_shared_dicts lists Options.SharedDicts, each with
// Kong's allocated_slabs and capacity.
type StatusMemory struct {
	WorkersLuaVMs  []StatusVM     `json:"workers_lua_vms"`
	LuaSharedDicts map[string]any `json:"lua_shared_dicts"`
}

// StatusVM is one worker's memory (a string such as "1.25 MiB", or a
// number of bytes with ?unit=b).
type StatusVM struct {
	HTTPAllocatedGC any `json:"http_allocated_gc"`
	PID             int `json:"pid"`
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	unit, scale := "m", 2
	if v := q.Get("unit"); q.Has("unit") {
		unit = v
	}
	if v := q.Get("scale"); q.Has("scale") {
		// Kong ignores a scale that is not a number.
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			if f < 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "scale must be equal or greater than 0"})
				return
			}
			if f != math.Trunc(f) || f > 20 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "scale must be an integer from 0 to 20"})
				return
			}
			scale = int(f)
		}
	}
	heap, err := memwatch.FormatUnit(int64(heapInUse()), unit, scale)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	dicts := map[string]any{}
	if s.opts.SharedDicts != nil {
		for _, d := range s.opts.SharedDicts() {
			used, _ := memwatch.FormatUnit(d.Bytes, unit, scale)
			capacity, _ := memwatch.FormatUnit(d.Capacity, unit, scale)
			dicts[d.Name] = map[string]any{"allocated_slabs": used, "capacity": capacity}
		}
	}
	body := StatusBody{
		Database: StatusDatabase{Reachable: true},
		Memory: StatusMemory{
			WorkersLuaVMs:  []StatusVM{{HTTPAllocatedGC: heap, PID: os.Getpid()}},
			LuaSharedDicts: dicts,
		},
		Server:            s.Stats(),
		ConfigurationHash: emptyHash,
	}
	if s.opts.DBReachable != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		body.Database.Reachable = s.opts.DBReachable(ctx) == nil
		cancel()
	}
	if snap := s.opts.Current.Load(); snap != nil && snap.Hash != "" {
		body.ConfigurationHash = snap.Hash
	}
	if s.opts.StatusInfo != nil {
		body.Sluice = s.opts.StatusInfo()
	}
	writeJSON(w, http.StatusOK, body)
}

// heapInUse reads the bytes of live and not yet swept heap objects without
// stopping the world.
func heapInUse() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"An unexpected error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
