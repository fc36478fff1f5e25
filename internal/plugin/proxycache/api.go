package proxycache

import (
	"context"
	"net/http"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// cacheVersion is Kong's CACHE_VERSION, stored with every entry.
const cacheVersion = 1

// AdminEndpoints are Kong's proxy-cache Admin API
// (kong/plugins/proxy-cache/api.lua, 3.x):
//
//	DELETE /proxy-cache                                  purge every entry: 204
//	GET    /proxy-cache/{cache_key}                      the entry of any proxy-cache plugin: 200, else 404
//	DELETE /proxy-cache/{cache_key}                      purge it: 204, else 404
//	GET    /proxy-cache/{plugin_id}/caches/{cache_key}   the entry of that plugin: 200, else 404
//	DELETE /proxy-cache/{plugin_id}/caches/{cache_key}   purge it: 204, else 404
//
// 404 and 204 carry no body. Entries live in each process's memory store:
// a purge is applied by the node that answers it and sent to the other
// nodes of a PostgreSQL cluster (Kong's "proxy-cache:purge" cluster
// event), which apply it to theirs.
var AdminEndpoints = []plugin.AdminEndpoint{
	{Pattern: "/proxy-cache", Methods: map[string]plugin.AdminHandler{
		http.MethodDelete: purgeAll,
	}},
	{Pattern: "/proxy-cache/{cache_key}", Methods: map[string]plugin.AdminHandler{
		http.MethodGet:    getAny,
		http.MethodDelete: deleteAny,
	}},
	{Pattern: "/proxy-cache/{plugin_id}/caches/{cache_key}", Methods: map[string]plugin.AdminHandler{
		http.MethodGet:    getOne,
		http.MethodDelete: deleteOne,
	}},
}

// entryJSON is a stored response as Kong's memory strategy keeps it (the
// table body_filter stores, JSON-encoded) and its Admin API returns it.
type entryJSON struct {
	Status    int            `json:"status"`
	Headers   map[string]any `json:"headers"`
	Body      string         `json:"body"`
	BodyLen   int            `json:"body_len"`
	Timestamp int64          `json:"timestamp"`
	TTL       int64          `json:"ttl"`
	Version   int            `json:"version"`
}

func render(r *Response) *entryJSON {
	h := make(map[string]any, len(r.Header))
	for k, vs := range r.Header {
		switch len(vs) {
		case 0:
		case 1:
			h[k] = vs[0]
		default:
			h[k] = vs
		}
	}
	return &entryJSON{Status: r.Status, Headers: h, Body: string(r.Body), BodyLen: len(r.Body),
		Timestamp: r.Timestamp, TTL: r.TTL, Version: cacheVersion}
}

// storeKey is where a plugin's entry for key lives in the shared store.
func storeKey(p *model.Plugin, key string) string {
	return decode(p.Config).Dictionary + ":" + key
}

// purgeAll flushes the dictionaries of every proxy-cache plugin. They all
// share one store, so the whole store is emptied.
func purgeAll(ctx context.Context, req *plugin.AdminRequest) (int, any, error) {
	if _, err := req.Plugins(ctx); err != nil {
		return 0, nil, err
	}
	shared.Flush()
	plugin.Broadcast(purgeEvent, nil)
	return http.StatusNoContent, nil, nil
}

// purgeEvent is the cluster event of a purge: data is the store key of the
// purged entry, or empty for the whole store.
const purgeEvent = "proxy-cache:purge"

func init() {
	plugin.OnClusterEvent(purgeEvent, func(data []byte) {
		if len(data) == 0 {
			shared.Flush()
			return
		}
		shared.Delete(string(data))
	})
}

// findAny returns the first plugin (in configuration order) whose
// dictionary holds key, as Kong's loop over kong.db.plugins:each().
func findAny(ctx context.Context, req *plugin.AdminRequest) (string, *Response, error) {
	ps, err := req.Plugins(ctx)
	if err != nil {
		return "", nil, err
	}
	key := req.Params["cache_key"]
	for _, p := range ps {
		sk := storeKey(p, key)
		if r := shared.Get(sk, now()); r != nil {
			return sk, r, nil
		}
	}
	return "", nil, nil
}

func getAny(ctx context.Context, req *plugin.AdminRequest) (int, any, error) {
	_, r, err := findAny(ctx, req)
	if err != nil || r == nil {
		return http.StatusNotFound, nil, err
	}
	return http.StatusOK, render(r), nil
}

func deleteAny(ctx context.Context, req *plugin.AdminRequest) (int, any, error) {
	sk, r, err := findAny(ctx, req)
	if err != nil || r == nil {
		return http.StatusNotFound, nil, err
	}
	shared.Delete(sk)
	plugin.Broadcast(purgeEvent, []byte(sk))
	return http.StatusNoContent, nil, nil
}

// findOne looks key up in the dictionary of one plugin entity.
func findOne(ctx context.Context, req *plugin.AdminRequest) (string, *Response, error) {
	p, err := req.Plugin(ctx, req.Params["plugin_id"])
	if err != nil || p == nil || p.Name != Name {
		return "", nil, err
	}
	sk := storeKey(p, req.Params["cache_key"])
	return sk, shared.Get(sk, now()), nil
}

func getOne(ctx context.Context, req *plugin.AdminRequest) (int, any, error) {
	_, r, err := findOne(ctx, req)
	if err != nil || r == nil {
		return http.StatusNotFound, nil, err
	}
	return http.StatusOK, render(r), nil
}

func deleteOne(ctx context.Context, req *plugin.AdminRequest) (int, any, error) {
	sk, r, err := findOne(ctx, req)
	if err != nil || r == nil {
		return http.StatusNotFound, nil, err
	}
	shared.Delete(sk)
	plugin.Broadcast(purgeEvent, []byte(sk))
	return http.StatusNoContent, nil, nil
}
