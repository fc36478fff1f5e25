package requestsizelimiting_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	_ "sluice/internal/plugin/requestsizelimiting"
	"sluice/internal/proxytest"
)

// chunked hides a body's length so the client sends it chunked.
type chunked struct{ io.Reader }

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"request-size-limiting": `{"allowed_payload_size":1,"size_unit":"kilobytes"}`})
	send := func(body io.Reader, hdr map[string]string) (*http.Response, string) {
		req, err := http.NewRequest("POST", g.URL+"/up", body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := send(strings.NewReader(strings.Repeat("a", 1024)), nil)
	if res.StatusCode != 200 || proxytest.DecodeEcho(t, body).Body != strings.Repeat("a", 1024) {
		t.Errorf("body at the limit: status %d; want 200 with the body forwarded", res.StatusCode)
	}
	res, body = send(strings.NewReader(strings.Repeat("a", 1025)), nil)
	if res.StatusCode != 413 || proxytest.Message(t, body) != "Request size limit exceeded" {
		t.Errorf("over the limit: got %d %s; want 413 Request size limit exceeded", res.StatusCode, body)
	}
	res, body = send(chunked{strings.NewReader(strings.Repeat("a", 2000))}, nil)
	if res.StatusCode != 413 || proxytest.Message(t, body) != "Request size limit exceeded" {
		t.Errorf("chunked over the limit: got %d %s; want 413", res.StatusCode, body)
	}
	res, body = send(chunked{strings.NewReader("small")}, nil)
	if res.StatusCode != 200 || proxytest.DecodeEcho(t, body).Body != "small" {
		t.Errorf("chunked under the limit: got %d %s; want 200 and the body forwarded", res.StatusCode, body)
	}
}
