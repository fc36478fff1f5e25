package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// phaseRecorder is a test plugin that records the phases it saw.
type phaseRecorder struct {
	mu     sync.Mutex
	events []string
	exit   bool // terminate in access
}

func (p *phaseRecorder) add(s string) {
	p.mu.Lock()
	p.events = append(p.events, s)
	p.mu.Unlock()
}

func (p *phaseRecorder) Rewrite(c *plugin.Ctx) { p.add("rewrite") }
func (p *phaseRecorder) Access(c *plugin.Ctx) {
	p.add("access")
	c.SetRequestHeader("X-From-Plugin", "yes")
	c.SetResponseHeader("X-Early", "set-in-access")
	if p.exit {
		c.Error(http.StatusTeapot, "short and stout", http.Header{"X-Exit": {"1"}})
	}
}
func (p *phaseRecorder) HeaderFilter(c *plugin.Ctx) {
	p.add("header_filter:" + http.StatusText(c.Status))
	c.SetResponseHeader("X-Seen-Status", http.StatusText(c.Status))
}
func (p *phaseRecorder) Log(c *plugin.Ctx) { p.add("log:" + http.StatusText(c.Status)) }

var recorders = map[string]*phaseRecorder{}
var recordersMu sync.Mutex

func init() {
	plugin.Register(plugin.Definition{Name: "test-phases", Priority: 5, Schema: &model.Schema{Name: "test-phases",
		Fields: []*model.Field{{Name: "tag", Type: model.TypeString}, {Name: "exit", Type: model.TypeBoolean, Default: false}}},
		New: func(cfg map[string]any, _ plugin.Deps) (any, error) {
			recordersMu.Lock()
			defer recordersMu.Unlock()
			tag, _ := cfg["tag"].(string)
			r := &phaseRecorder{}
			r.exit, _ = cfg["exit"].(bool)
			recorders[tag] = r
			return r, nil
		}})
}

func TestPluginPhases(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	proxied, exited, global := routeTo(svc, "/proxied"), routeTo(svc, "/exited"), routeTo(svc, "/global")
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{proxied, exited, global},
		Plugins: []*model.Plugin{
			plug(t, "test-phases", map[string]any{"tag": "proxied"}, proxied, nil, nil),
			plug(t, "test-phases", map[string]any{"tag": "exited", "exit": true}, exited, nil, nil),
			plug(t, "test-phases", map[string]any{"tag": "global"}, nil, nil, nil),
		}})

	res, body := e.do(t, "GET", "/proxied", nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("/proxied: %d %s", res.StatusCode, body)
	}
	if got := decodeEcho(t, body).Header.Get("X-From-Plugin"); got != "yes" {
		t.Errorf("upstream X-From-Plugin = %q; want yes", got)
	}
	if res.Header.Get("X-Early") != "set-in-access" || res.Header.Get("X-Seen-Status") != "OK" {
		t.Errorf("response headers %v; want X-Early and X-Seen-Status: OK", res.Header)
	}
	want := []string{"access", "header_filter:OK", "log:OK"} // route plugin: no rewrite phase
	if got := recorders["proxied"].events; !equalStrings(got, want) {
		t.Errorf("route plugin phases = %v; want %v", got, want)
	}

	res, body = e.do(t, "GET", "/exited", nil, nil)
	if res.StatusCode != http.StatusTeapot || kongMessage(t, body) != "short and stout" || res.Header.Get("X-Exit") != "1" {
		t.Errorf("/exited: %d %s %v; want 418 with the plugin's message and header", res.StatusCode, body, res.Header)
	}
	if res.Header.Get("X-Early") != "set-in-access" || res.Header.Get("X-Seen-Status") != "I'm a teapot" {
		t.Errorf("exit response headers %v; want X-Early and header_filter's X-Seen-Status", res.Header)
	}
	want = []string{"access", "header_filter:I'm a teapot", "log:I'm a teapot"}
	if got := recorders["exited"].events; !equalStrings(got, want) {
		t.Errorf("exiting plugin phases = %v; want %v", got, want)
	}

	// The global instance is overridden by the route instances on /proxied
	// and /exited (same plugin name); on /global it runs, rewrite included.
	if res, _ := e.do(t, "GET", "/global", nil, nil); res.StatusCode != 200 {
		t.Fatalf("/global: %d", res.StatusCode)
	}
	want = []string{"rewrite", "access", "header_filter:OK", "log:OK"}
	if got := recorders["global"].events; !equalStrings(got, want) {
		t.Errorf("global plugin phases = %v; want %v", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// upperBody is a test plugin whose body filter upper-cases the body and
// appends a marker at the end.
type upperBody struct{}

func (upperBody) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	out := []byte(strings.ToUpper(string(chunk)))
	if last {
		out = append(out, "|END"...)
	}
	return out
}

func init() {
	plugin.Register(plugin.Definition{Name: "test-body", Priority: 4, Schema: &model.Schema{Name: "test-body"},
		New: func(map[string]any, plugin.Deps) (any, error) { return upperBody{}, nil }})
}

func TestPluginBodyFilter(t *testing.T) {
	big := strings.Repeat("abc", 40000) // several reads
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = io.WriteString(w, big)
	}))
	t.Cleanup(up.Close)
	svc := svcTo(t, up.URL)
	r, plain := routeTo(svc, "/f"), routeTo(svc, "/plain")
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r, plain},
		Plugins: []*model.Plugin{plug(t, "test-body", nil, r, nil, nil)}})
	res, body := e.do(t, "GET", "/f", nil, nil)
	if want := strings.ToUpper(big) + "|END"; res.StatusCode != 200 || body != want {
		t.Errorf("filtered body: %d, %d bytes (suffix %q); want %d bytes ending in |END", res.StatusCode, len(body), body[max(0, len(body)-8):], len(want))
	}
	if res, body := e.do(t, "GET", "/plain", nil, nil); body != big || res.ContentLength != int64(len(big)) {
		t.Errorf("unfiltered route: %d bytes, Content-Length %d; want the upstream body as is", len(body), res.ContentLength)
	}
}
