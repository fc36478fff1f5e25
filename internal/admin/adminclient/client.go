// Package adminclient is a small client of the Admin API for tests and
// tools: JSON requests, Kong's error bodies as *APIError, and paging over
// collections.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client talks to one Admin API.
type Client struct {
	BaseURL string // e.g. "http://127.0.0.1:8001"
	Token   string // sent as Kong-Admin-Token when set
	HTTP    *http.Client
}

// New returns a client of the Admin API at baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: http.DefaultClient}
}

// APIError is a non-2xx answer.
type APIError struct {
	Status  int
	Message string         // the body's "message"
	Body    map[string]any // the whole body, when it was JSON
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin api: %d: %s", e.Status, e.Message)
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Do sends a request with body encoded as JSON (nil: no body) and decodes
// a JSON answer into out (nil: discarded). Non-2xx answers are *APIError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Kong-Admin-Token", c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		ae := &APIError{Status: res.StatusCode, Message: strings.TrimSpace(string(raw))}
		if json.Unmarshal(raw, &ae.Body) == nil {
			if m, ok := ae.Body["message"].(string); ok {
				ae.Message = m
			}
		}
		return ae
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// Entity is one entity as the Admin API renders it.
type Entity = map[string]any

// Create POSTs body to a collection ("/services", "/consumers/u/key-auth").
func (c *Client) Create(ctx context.Context, collection string, body any) (Entity, error) {
	var out Entity
	return out, c.Do(ctx, http.MethodPost, collection, body, &out)
}

// Get reads one entity ("/services/name").
func (c *Client) Get(ctx context.Context, path string) (Entity, error) {
	var out Entity
	return out, c.Do(ctx, http.MethodGet, path, nil, &out)
}

// Put creates or replaces one entity.
func (c *Client) Put(ctx context.Context, path string, body any) (Entity, error) {
	var out Entity
	return out, c.Do(ctx, http.MethodPut, path, body, &out)
}

// Patch updates the given fields of one entity.
func (c *Client) Patch(ctx context.Context, path string, body any) (Entity, error) {
	var out Entity
	return out, c.Do(ctx, http.MethodPatch, path, body, &out)
}

// Delete deletes one entity.
func (c *Client) Delete(ctx context.Context, path string) error {
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// List reads every page of a collection, size entities per request (0:
// the server's default), following the offset tokens.
func (c *Client) List(ctx context.Context, collection string, size int) ([]Entity, error) {
	var all []Entity
	offset := ""
	for {
		q := url.Values{}
		if size > 0 {
			q.Set("size", fmt.Sprint(size))
		}
		if offset != "" {
			q.Set("offset", offset)
		}
		path := collection
		if len(q) > 0 {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + q.Encode()
		}
		var page struct {
			Data   []Entity `json:"data"`
			Offset string   `json:"offset"`
		}
		if err := c.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.Offset == "" {
			return all, nil
		}
		offset = page.Offset
	}
}
