package responsetransformer_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"

	_ "sluice/internal/plugin/responsetransformer"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Powered-By", "php")
		w.Header().Set("X-Old", "v")
		body := `{"id":7,"internal":"x","name":"n"}`
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	})
	g := proxytest.New(t, up, map[string]string{"response-transformer": `{
		"remove":{"headers":["x-powered-by"],"json":["internal"]},
		"rename":{"headers":["x-old:x-new"]},
		"add":{"headers":["x-served-by:sluice"],"json":["version:2","beta:true"],"json_types":["number","boolean"]},
		"append":{"json":["name:m"]}}`})
	res, body := g.Do(t, "GET", "/x", nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// The body_filter phase is checked by the unit tests: the proxy does not
	// run body filters yet.
	_ = body
	for k, want := range map[string]string{"X-Powered-By": "", "X-Old": "", "X-New": "v", "X-Served-By": "sluice"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if res.ContentLength != -1 && res.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d does not match the body (%d bytes)", res.ContentLength, len(body))
	}
}
