package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/store"
)

// addPluginRoutes adds the Admin API endpoints of the enabled plugins
// (plugin.Definition.Admin, Kong's kong/plugins/<name>/api.lua). A pattern
// already served by the Admin API itself is skipped: entity paths win.
func (s *server) addPluginRoutes() {
	taken := make(map[string]bool, len(s.routes))
	for _, rt := range s.routes {
		taken[rt.pattern] = true
	}
	for _, name := range s.enabled {
		def, ok := plugin.Lookup(name)
		if !ok {
			continue
		}
		for _, ep := range def.Admin {
			if taken[ep.Pattern] {
				s.log.Warn("plugin admin endpoint shadows an Admin API path; skipped", "plugin", name, "path", ep.Pattern)
				continue
			}
			taken[ep.Pattern] = true
			hs := make(handlers, len(ep.Methods))
			for method, h := range ep.Methods {
				hs[method] = s.pluginEndpoint(name, h)
			}
			s.add(ep.Pattern, hs)
		}
	}
}

// pluginEndpoint adapts a plugin's handler to the Admin API router.
func (s *server) pluginEndpoint(name string, h plugin.AdminHandler) func(*call) error {
	return func(c *call) error {
		ctx := c.r.Context()
		var in map[string]any
		switch c.r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			// as Kong's before_filter: only these have their body (and
			// content type) looked at
			var err error
			if in, _, err = decodeBody(c.r, c.body); err != nil {
				return err
			}
		}
		req := &plugin.AdminRequest{
			Params:  c.params,
			Body:    c.body,
			Input:   in,
			Query:   c.r.URL.Query(),
			Plugins: func(ctx context.Context) ([]*model.Plugin, error) { return s.pluginsNamed(ctx, name) },
			Plugin:  s.pluginByID,
		}
		status, body, err := h(ctx, req)
		if err != nil {
			return fmt.Errorf("admin: %s endpoint %s: %w", name, c.route.pattern, err)
		}
		if body == nil {
			s.writeLatency(c)
			c.status = status
			if status != http.StatusNoContent && status != http.StatusNotModified {
				c.w.Header().Set("Content-Length", "0")
			}
			c.w.WriteHeader(status)
			return nil
		}
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("admin: %s endpoint %s: encoding the answer: %w", name, c.route.pattern, err)
		}
		s.writeLatency(c)
		c.status = status
		hdr := c.w.Header()
		hdr.Set("Content-Type", "application/json; charset=utf-8")
		hdr.Set("Content-Length", strconv.Itoa(len(b)))
		c.w.WriteHeader(status)
		_, _ = c.w.Write(b)
		return nil
	}
}

// pluginsNamed lists the plugin entities with that name, every page.
func (s *server) pluginsNamed(ctx context.Context, name string) ([]*model.Plugin, error) {
	rd := s.reader()
	var out []*model.Plugin
	opts := store.ListOptions{Size: 1000}
	for {
		page, err := rd.List(ctx, "plugins", opts)
		if err != nil {
			return nil, err
		}
		for _, rec := range page.Records {
			if n, _ := rec["name"].(string); n != name {
				continue
			}
			p := &model.Plugin{}
			if err := model.Decode(rec, p); err != nil {
				return nil, fmt.Errorf("plugin %v: %w", rec["id"], err)
			}
			out = append(out, p)
		}
		if page.Offset == "" {
			return out, nil
		}
		opts.Offset = page.Offset
	}
}

// pluginByID returns the plugin entity with that id; nil when none.
func (s *server) pluginByID(ctx context.Context, id string) (*model.Plugin, error) {
	if !isUUID(id) {
		return nil, nil
	}
	rec, err := s.reader().Get(ctx, "plugins", id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p := &model.Plugin{}
	if err := model.Decode(rec, p); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", id, err)
	}
	return p, nil
}
