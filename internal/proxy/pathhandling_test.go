package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"

	"sluice/internal/model"
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
// proxy spec runs the v1 rows only for the "traditional" flavor), so a v1 row
// must give the same result as its v0 twin.
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
	type key struct {
		sp, rp, req string
		strip       bool
		hostOnly    bool
	}
	v0 := map[key]string{}
	for _, r := range file.Rows {
		if r.PathHandling == "v0" {
			rp := ""
			if r.RoutePath != nil {
				rp = *r.RoutePath
			}
			v0[key{r.ServicePath, rp, r.RequestPath, r.StripPath, r.RoutePath == nil}] = r.Expected
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
	e := newEnv(t, cfg, Options{})

	for i, r := range file.Rows {
		rp := "(host only)"
		if r.RoutePath != nil {
			rp = *r.RoutePath
		}
		want := r.Expected
		if r.PathHandling == "v1" {
			k := key{r.ServicePath, "", r.RequestPath, r.StripPath, r.RoutePath == nil}
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
