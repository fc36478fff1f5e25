package botdetection_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	_ "sluice/internal/plugin/botdetection"
	"sluice/internal/proxytest"
)

// TestTwoUserAgents sends two User-Agent lines on a raw connection (Go's
// client writes only one).
func TestTwoUserAgents(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"bot-detection": `{}`})
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a\r\nUser-Agent: a\r\nUser-Agent: b\r\nConnection: close\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(conn)
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 400 ") || !strings.Contains(body, "Only one User-Agent header allowed") {
		t.Errorf("two User-Agents: got %q; want 400 Only one User-Agent header allowed", raw)
	}
}

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"bot-detection": `{"deny":["^BadClient"],"allow":["Googlebot-Image"]}`})
	tests := []struct {
		ua     []string
		status int
		msg    string
	}{
		{[]string{"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}, 200, ""},
		{[]string{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, 403, "Forbidden"},
		{[]string{"Googlebot-Image/1.0"}, 200, ""},
		{[]string{"BadClient/1.0"}, 403, "Forbidden"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", g.URL+"/x", nil)
		for _, ua := range tt.ua {
			req.Header.Add("User-Agent", ua)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%q: status %d; want %d", tt.ua, res.StatusCode, tt.status)
			continue
		}
		if tt.msg != "" {
			if got := proxytest.Message(t, string(b)); got != tt.msg {
				t.Errorf("%q: message %q; want %q", tt.ua, got, tt.msg)
			}
		}
	}
}
