package aiproxy

import (
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
)

// FuzzTemplate fills arbitrary templates from a request: no panic; a
// string without "$(" is returned as it is.
func FuzzTemplate(f *testing.F) {
	f.Add("$(headers.x-model)")
	f.Add("gpt-$(query_params.v)-$(uri_captures.n)")
	f.Add("$(nope.x")
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("GET", "/?v=4", nil)
		r.Header.Set("X-Model", "m")
		c := &plugin.Ctx{Request: r, Captures: map[string]string{"n": "1"}}
		got, err := fill(c, s, true, "model.name")
		if !strings.Contains(s, "$(") && (err != nil || got != s) {
			t.Fatalf("%q: %q, %v", s, got, err)
		}
	})
}
