package redirect

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func TestAccess(t *testing.T) {
	for _, tt := range []struct {
		cfg, target, want string
		status            int
	}{
		{`{"location":"https://example.com"}`, "/a/b?x=1", "https://example.com", 301},
		{`{"location":"https://example.com/new?old=1","status_code":308}`, "/a", "https://example.com/new?old=1", 308},
		{`{"location":"https://example.com/ignored?q=z","keep_incoming_path":true}`, "/a/b%20c?x=1&y", "https://example.com/a/b%20c?x=1&y", 301},
		{`{"location":"http://example.com:8080","keep_incoming_path":true}`, "/p", "http://example.com:8080/p", 301},
		{`{"location":"https://example.com/x?q=1","keep_incoming_path":true}`, "/p", "https://example.com/p", 301},
	} {
		p := proxytest.Instance[*Redirect](t, Schema, New, tt.cfg)
		c := &plugin.Ctx{Request: httptest.NewRequest("GET", tt.target, nil)}
		p.Access(c)
		e := c.Exited()
		if e == nil || e.Status != tt.status || e.Header.Get("Location") != tt.want || string(e.Body) != "redirecting" {
			t.Errorf("%s %s: got %+v; want %d Location %s", tt.cfg, tt.target, e, tt.status, tt.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		"example.com/x":   "missing host in url",
		"//example.com/x": "missing scheme in url",
		"https://":        "missing host in url",
	} {
		_, serr := Schema.Process(map[string]any{"location": cfg}, nil)
		if serr == nil || serr.Fields["location"] != want {
			t.Errorf("location %q: %v; want %q", cfg, serr, want)
		}
	}
	if _, serr := Schema.Process(map[string]any{}, nil); serr == nil || serr.Fields["location"] != "required field missing" {
		t.Errorf("no location: %v", serr)
	}
}

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"redirect": `{"location":"https://new.example.com","keep_incoming_path":true,"status_code":302}`})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(g.URL + "/orders/7?full=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 302 || res.Header.Get("Location") != "https://new.example.com/orders/7?full=1" || string(body) != "redirecting" {
		t.Errorf("got %d %q %q", res.StatusCode, res.Header.Get("Location"), body)
	}
}
