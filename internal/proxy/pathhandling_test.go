package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"

	"sluice/internal/model"
	"sluice/internal/router"
	"sluice/internal/snapshot"
)

type pathRow struct {
	ServicePath  string  `json:"service_path"`
	RoutePath    *string `json:"route_path"`
	StripPath    bool    `json:"strip_path"`
	PathHandling string  `json:"path_handling"`
	RequestPath  string  `json:"request_path"`
	Expected     string  `json:"expected_upstream_path"`
}

// TestPathHandlingConformance sends every row of Kong's path-handling
// fixture through the proxy to an upstream that echoes the URI it got.
// Kong 3.x's traditional_compatible router ignores path_handling (Kong's own
// proxy spec runs the v1 rows only for the "traditional" flavor), so there a
// v1 row must give the same result as its v0 twin; with the router option
// for the traditional flavor (PathHandlingV1) every row holds as written.
func TestPathHandlingConformance(t *testing.T) {
	// ../../conformance/kong-path-handling.json is a copy of
	// /work/shared/conformance/kong-path-handling.json.
	raw, err := os.ReadFile("../../conformance/kong-path-handling.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Rows []pathRow `json:"rows"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	v0 := map[pathKey]string{}
	for _, r := range file.Rows {
		if r.PathHandling == "v0" {
			rp := ""
			if r.RoutePath != nil {
				rp = *r.RoutePath
			}
			v0[pathKey{r.ServicePath, rp, r.RequestPath, r.StripPath, r.RoutePath == nil}] = r.Expected
		}
	}

	up := newEcho(t, "echo")
	cfg := &model.Config{}
	for i, r := range file.Rows {
		s := svcTo(t, up.URL)
		s.Path = ptr(r.ServicePath)
		rt := routeTo(s)
		if r.RoutePath != nil {
			rt.Paths = []string{*r.RoutePath}
		}
		rt.Hosts = []string{fmt.Sprintf("row-%d.test", i)}
		rt.StripPath = r.StripPath
		rt.PathHandling = r.PathHandling
		cfg.Services = append(cfg.Services, s)
		cfg.Routes = append(cfg.Routes, rt)
	}
	for _, flavor := range []string{"traditional_compatible", "traditional"} {
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, cfg, Options{})
			if flavor == "traditional" {
				env := &snapshot.Env{Pool: e.pool, Router: router.Options{PathHandlingV1: true}}
				snap, err := snapshot.Build(nil, cfg, "0123456789abcdef0123456789abcdef", env)
				if err != nil {
					t.Fatal(err)
				}
				e.cur.Store(snap)
			}
			runPathRows(t, e, file.Rows, v0, flavor == "traditional")
		})
	}
}

type pathKey struct {
	sp, rp, req string
	strip       bool
	hostOnly    bool
}

func runPathRows(t *testing.T, e *env, rows []pathRow, v0 map[pathKey]string, v1Honoured bool) {
	for i, r := range rows {
		rp := "(host only)"
		if r.RoutePath != nil {
			rp = *r.RoutePath
		}
		want := r.Expected
		if r.PathHandling == "v1" && !v1Honoured {
			k := pathKey{r.ServicePath, "", r.RequestPath, r.StripPath, r.RoutePath == nil}
			if r.RoutePath != nil {
				k.rp = *r.RoutePath
			}
			w, ok := v0[k]
			if !ok {
				t.Fatalf("row %d: no v0 twin", i)
			}
			want = w
		}
		name := fmt.Sprintf("%03d svc=%s route=%s strip=%v %s req=%s", i, r.ServicePath, rp, r.StripPath, r.PathHandling, r.RequestPath)
		t.Run(name, func(t *testing.T) {
			res, body := e.do(t, http.MethodGet, r.RequestPath, map[string]string{"Host": fmt.Sprintf("row-%d.test", i)}, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d; want 200 (body %q)", res.StatusCode, body)
			}
			got := decodeEcho(t, body).URI
			if got != want {
				t.Errorf("upstream path %q; want %q", got, want)
			}
		})
	}
}
