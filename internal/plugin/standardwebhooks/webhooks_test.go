package standardwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// signed computes a signature independently of the plugin.
func signed(id, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id + "." + ts + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func request(hdr map[string]string, body string) *plugin.Ctx {
	r := httptest.NewRequest("POST", "/hook", strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return &plugin.Ctx{Request: r}
}

func TestVerify(t *testing.T) {
	p := proxytest.Instance[*Webhooks](t, Schema, New, `{"secret_v1":"`+secret+`"}`)
	fixed := time.Unix(1732700000, 0)
	now = func() time.Time { return fixed }
	defer func() { now = time.Now }()
	ts := "1732700000"
	body := `{"type":"invoice.paid"}`
	good := map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": signed("msg_1", ts, body)}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	old := strconv.FormatInt(fixed.Unix()-301, 10)
	future := strconv.FormatInt(fixed.Unix()+3600, 10)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		body string
		ok   bool
	}{
		{"signed", good, body, true},
		{"no id", with("webhook-id", ""), body, false},
		{"no signature", with("webhook-signature", ""), body, false},
		{"no timestamp", with("webhook-timestamp", ""), body, false},
		{"too old", with("webhook-timestamp", old), body, false},
		{"at the tolerance", with("webhook-timestamp", strconv.FormatInt(fixed.Unix()-300, 10)), body, false}, // signature is over the other timestamp
		{"from the future, signed", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": future, "webhook-signature": signed("msg_1", future, body)}, body, true},
		{"timestamp not a number", with("webhook-timestamp", "yesterday"), body, false},
		{"other body", good, `{"type":"invoice.void"}`, false},
		{"empty body", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": signed("msg_1", ts, "")}, "", false},
		{"other secret", with("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString([]byte("x"))), body, false},
	} {
		c := request(tc.hdr, tc.body)
		p.Access(c)
		e := c.Exited()
		switch {
		case tc.ok && e != nil:
			t.Errorf("%s: refused %d %q", tc.name, e.Status, e.Message)
		case !tc.ok && (e == nil || e.Status != 400 || e.Message != "Bad request"):
			t.Errorf("%s: exit %+v; want 400 Bad request", tc.name, e)
		}
		if tc.ok {
			if b, _ := io.ReadAll(c.Request.Body); string(b) != tc.body {
				t.Errorf("%s: the upstream gets body %q; want it unchanged", tc.name, b)
			}
		}
	}
	// a timestamp with a fraction is signed as written
	frac := "1732700000.5"
	c := request(map[string]string{"webhook-id": "m", "webhook-timestamp": frac, "webhook-signature": signed("m", frac, body)}, body)
	if p.Access(c); c.Exited() != nil {
		t.Errorf("fractional timestamp refused")
	}
}

func TestSchema(t *testing.T) {
	if _, serr := Schema.Process(map[string]any{}, nil); serr == nil {
		t.Error("a config without secret_v1 was accepted")
	}
	if _, serr := Schema.Process(map[string]any{"secret_v1": "s", "tolerance_second": -1}, nil); serr == nil {
		t.Error("tolerance_second -1 was accepted")
	}
	rec, serr := Schema.Process(map[string]any{"secret_v1": "s"}, nil)
	if serr != nil || rec["tolerance_second"] != 300 {
		t.Errorf("defaults %v, %v; want tolerance_second 300", rec, serr)
	}
}

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: `{"secret_v1":"` + secret + `"}`})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body := `{"a":1}`
	res, out := g.Do(t, "POST", "/hook", map[string]string{"webhook-id": "msg_2", "webhook-timestamp": ts,
		"webhook-signature": signed("msg_2", ts, body), "Content-Type": "application/json"}, body)
	if res.StatusCode != 200 {
		t.Fatalf("signed webhook: %d %s", res.StatusCode, out)
	}
	if e := proxytest.DecodeEcho(t, out); e.Body != body {
		t.Errorf("upstream got body %q; want %q", e.Body, body)
	}
	res, out = g.Do(t, "POST", "/hook", map[string]string{"webhook-id": "msg_2", "webhook-timestamp": ts,
		"webhook-signature": "v1,AAAA"}, body)
	if res.StatusCode != http.StatusBadRequest || proxytest.Message(t, out) != "Bad request" {
		t.Errorf("bad signature: %d %s; want 400 Bad request", res.StatusCode, out)
	}
}

func BenchmarkAccess(b *testing.B) {
	p := proxytest.Instance[*Webhooks](b, Schema, New, `{"secret_v1":"`+secret+`"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body := strings.Repeat("x", 1024)
	sig := signed("m", ts, body)
	b.ReportAllocs()
	for b.Loop() {
		c := request(map[string]string{"webhook-id": "m", "webhook-timestamp": ts, "webhook-signature": sig}, body)
		p.Access(c)
		if c.Exited() != nil {
			b.Fatal("refused")
		}
	}
}
