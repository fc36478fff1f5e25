package grpcgateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"sluice/internal/grpcjson"
	"sluice/internal/plugin"
	"sluice/internal/plugin/grpcgateway"
	"sluice/internal/proxytest"
)

const protoFile = "../../grpcjson/testdata/shop.proto"

// seen is what the gRPC upstream received.
type seen struct {
	proto                      int
	method, path, query, ctype string
	te                         string
}

// upstream is a gRPC server for shop.proto: SayHello answers "hello " and
// the greeting, Echo answers each message it gets, Missing and any other
// path get a trailers-only UNIMPLEMENTED (grpc-status 12).
type upstream struct {
	t      *testing.T
	schema *grpcjson.Schema
	mu     sync.Mutex
	last   *seen
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.last = &seen{proto: r.ProtoMajor, method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, ctype: r.Header.Get("Content-Type"), te: r.Header.Get("Te")}
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
	var out []byte
	switch r.URL.Path {
	case "/shop.Greeter/Echo":
		for msg, rest, ok := grpcjson.NextFrame(body); ok; msg, rest, ok = grpcjson.NextFrame(rest) {
			out = grpcjson.Frame(out, msg)
		}
	case "/shop.Greeter/SayHello":
		m := u.schema.Methods[r.URL.Path]
		msg, _, _ := grpcjson.NextFrame(body)
		in := dynamicpb.NewMessage(m.Input)
		if err := proto.Unmarshal(msg, in); err != nil {
			u.t.Errorf("SayHello request: %v", err)
		}
		reply := dynamicpb.NewMessage(m.Output)
		reply.Set(m.Output.Fields().ByName("reply"), protoreflect.ValueOfString("hello "+in.Get(m.Input.Fields().ByName("greeting")).String()))
		reply.Set(m.Output.Fields().ByName("polite"), in.Get(m.Input.Fields().ByName("polite")))
		b, _ := proto.Marshal(reply)
		out = grpcjson.Frame(nil, b)
	default:
		w.Header().Del("Trailer")
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "unknown method")
		w.WriteHeader(200)
		return
	}
	w.WriteHeader(200)
	// Split the answer across writes, mid-frame, as a stream may come.
	for len(out) > 0 {
		n := min(len(out), 7)
		_, _ = w.Write(out[:n])
		w.(http.Flusher).Flush()
		out = out[n:]
	}
	w.Header().Set("Grpc-Status", "0")
	w.Header().Set("Grpc-Message", "")
}

func (u *upstream) seen() *seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.last
	u.last = nil
	return s
}

func gateway(t *testing.T, conf string) (*proxytest.Gateway, *upstream) {
	t.Helper()
	schema, err := grpcjson.Load(protoFile)
	if err != nil {
		t.Fatal(err)
	}
	up := &upstream{t: t, schema: schema}
	s := httptest.NewUnstartedServer(up)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	s.Config.Protocols = &p
	s.Start()
	t.Cleanup(s.Close)
	cfg := proxytest.Config(t, s.URL, map[string]string{grpcgateway.Name: conf})
	cfg.Services[0].Protocol = "grpc"
	return proxytest.Serve(t, cfg), up
}

func TestThroughProxy(t *testing.T) {
	g, up := gateway(t, `{"proto":"`+protoFile+`"}`)
	json := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		wantStatus         int
		wantBody           string
		wantUpstream       string // the gRPC path called; "" when none
	}{
		{"rule", "GET", "/v1/greet/ann", nil, "", 200, `{"reply":"hello ann","polite":false}`, "/shop.Greeter/SayHello"},
		{"body rule ignores the query", "GET", "/v1/greet/ann?polite=true&x.y=1", nil, "", 200, `{"reply":"hello ann","polite":false}`, "/shop.Greeter/SayHello"},
		{"additional binding takes the query", "GET", "/v1/greet/legacy/a/b?polite=1", nil, "", 200, `{"reply":"hello a\/b","polite":true}`, "/shop.Greeter/SayHello"},
		{"query false", "GET", "/v1/greet/legacy/ann?polite=false", nil, "", 200, `{"reply":"hello ann","polite":false}`, "/shop.Greeter/SayHello"},
		{"normalized path", "GET", "/v1/./greet/a%62c", nil, "", 200, `{"reply":"hello abc","polite":false}`, "/shop.Greeter/SayHello"},
		{"merged slashes", "GET", "//v1//greet/ann", nil, "", 200, `{"reply":"hello ann","polite":false}`, "/shop.Greeter/SayHello"},
		{"body", "POST", "/v1/echo", json, `{"name":"n","tags":[],"when":"2024-02-03T04:05:06Z","items":[{"id":2}]}`, 200,
			`{"name":"n","count":0,"big":0,"small":0,"ratio":0,"f":0,"on":false,"raw":"","color":"COLOR_UNSPECIFIED","tags":[],"scores":{},"items":[{"id":2,"label":""}],"when":"2024-02-03T04:05:06"}`,
			"/shop.Greeter/Echo"},
		{"unknown path", "GET", "/v1/greet/ann/more", nil, "", 400, `failed to transcode .proto file Unknown path "/v1/greet/ann/more"`, ""},
		{"unknown method", "DELETE", "/v1/greet/ann", nil, "", 400, `failed to transcode .proto file Unknown method "delete"`, ""},
		{"invalid json", "POST", "/v1/echo", json, `{"name":"invalid}`, 400, `decode json err: Expected value but found unexpected end of string at character 18`, ""},
		{"type mismatch", "POST", "/v1/echo", json, `{"name":1}`, 400, `failed to encode payload`, ""},
		{"grpc status in headers", "GET", "/v1/missing/ann", nil, "", 500, ``, "/shop.Greeter/Missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := g.Do(t, tt.method, tt.path, tt.hdr, tt.body)
			if res.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("%d %q; want %d %q", res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin %q", got)
			}
			s := up.seen()
			if tt.wantUpstream == "" {
				if s != nil {
					t.Fatalf("the upstream was called: %+v", s)
				}
				if ct := res.Header.Get("Content-Type"); ct != "" && tt.wantStatus == 400 {
					t.Errorf("Content-Type %q on the plugin's 400", ct)
				}
				return
			}
			if s == nil {
				t.Fatal("the upstream was not called")
			}
			if s.proto != 2 || s.method != "POST" || s.path != tt.wantUpstream || s.query != "" || s.ctype != "application/grpc" || s.te != "trailers" {
				t.Errorf("upstream request %+v", s)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if res, _ := g.Do(t, "GET", "/v1/missing/ann", nil, ""); res.Header.Get("Grpc-Status") != "12" {
		t.Errorf("grpc-status header not passed on: %v", res.Header)
	}
}

func TestPreflight(t *testing.T) {
	g, up := gateway(t, `{"proto":"`+protoFile+`"}`)
	res, body := g.Do(t, "OPTIONS", "/v1/greet/ann", nil, "")
	if res.StatusCode != 200 || body != "OK" || res.Header.Get("Access-Control-Allow-Methods") != "GET,POST,PATCH,DELETE" ||
		res.Header.Get("Access-Control-Allow-Headers") != "content-type" || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%d %q %v", res.StatusCode, body, res.Header)
	}
	if up.seen() != nil {
		t.Fatal("a preflight reached the upstream")
	}
}

func TestProtoProblems(t *testing.T) {
	g, _ := gateway(t, `{}`)
	if res, body := g.Do(t, "GET", "/v1/greet/ann", nil, ""); res.StatusCode != 400 || body != "transcoding requests require a .proto file defining the service" {
		t.Fatalf("no proto: %d %q", res.StatusCode, body)
	}
	g, up := gateway(t, `{"proto":"testdata/absent.proto"}`)
	for range 2 {
		if res, body := g.Do(t, "GET", "/v1/greet/ann", nil, ""); res.StatusCode != 500 || !strings.Contains(body, "An unexpected error occurred") {
			t.Fatalf("missing proto: %d %q", res.StatusCode, body)
		}
	}
	if up.seen() != nil {
		t.Fatal("the upstream was called")
	}
}

// BodyFilter: messages split across chunks, several in one chunk, and
// bytes that never make a message, passed on at the end.
func TestBodyFilterChunks(t *testing.T) {
	schema, err := grpcjson.Load(protoFile)
	if err != nil {
		t.Fatal(err)
	}
	out := schema.Methods["/shop.Greeter/SayHello"].Output
	reply := func(s string) []byte {
		m := dynamicpb.NewMessage(out)
		m.Set(out.Fields().ByName("reply"), protoreflect.ValueOfString(s))
		b, _ := proto.Marshal(m)
		return grpcjson.Frame(nil, b)
	}
	stream := append(append(reply("a"), reply(strings.Repeat("b", 5000))...), reply("")...)
	stream = append(stream, "tail"...)
	want := `{"reply":"a","polite":false}{"reply":"` + strings.Repeat("b", 5000) + `","polite":false}{"reply":"","polite":false}tail`
	g := proxytest.Instance[*grpcgateway.GRPCGateway](t, grpcgateway.Schema, grpcgateway.New, `{"proto":"`+protoFile+`"}`)
	for _, size := range []int{1, 7, 4096, len(stream)} {
		r := httptest.NewRequest("GET", "/v1/greet/x", nil)
		c := &plugin.Ctx{Request: r}
		g.Access(c)
		if c.Exited() != nil {
			t.Fatalf("access: %+v", c.Exited())
		}
		var got []byte
		for off := 0; off < len(stream); off += size {
			end := min(off+size, len(stream))
			got = append(got, g.BodyFilter(c, stream[off:end], end == len(stream))...)
		}
		if string(got) != want {
			t.Fatalf("chunks of %d: %q", size, got)
		}
	}
}
