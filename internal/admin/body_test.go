package admin

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestFormBodies(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/services", "name=svc&host=example.com&port=8080&retries=3&tags=one", "application/x-www-form-urlencoded")
	tests := []struct {
		name string
		body string
		want map[string]any
	}{
		{"repeated keys", "name=r1&paths=/a&paths=/b&service.name=svc",
			map[string]any{"paths": []any{"/a", "/b"}}},
		{"bracket keys", "name=r2&paths[]=/a&paths[]=/b&methods[]=GET",
			map[string]any{"paths": []any{"/a", "/b"}, "methods": []any{"GET"}}},
		{"indexed keys", "name=r3&paths[1]=/a&paths[2]=/b&hosts[1]=x.com",
			map[string]any{"paths": []any{"/a", "/b"}, "hosts": []any{"x.com"}}},
		{"single value becomes a list, booleans and integers typed", "name=r4&paths=/only&strip_path=false&regex_priority=7",
			map[string]any{"paths": []any{"/only"}, "strip_path": false, "regex_priority": 7}},
		{"dotted map keys", "name=r5&headers.x-region=north&headers.x-env[]=a&headers.x-env[]=b",
			map[string]any{"headers": map[string]any{"x-region": []any{"north"}, "x-env": []any{"a", "b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.must(201, "POST", "/routes", tt.body, "application/x-www-form-urlencoded")
			for k, v := range tt.want {
				if !equalJSON(got[k], v) {
					t.Errorf("%s = %v; want %v", k, got[k], v)
				}
			}
		})
	}
	svc := c.must(200, "GET", "/services/svc", nil)
	if svc["port"] != 8080.0 || svc["retries"] != 3.0 || !equalJSON(svc["tags"], []any{"one"}) {
		t.Errorf("form service: port %v retries %v tags %v", svc["port"], svc["retries"], svc["tags"])
	}
	p := c.must(201, "POST", "/plugins", "name=test-limit&config.minute=20&service.name=svc", "application/x-www-form-urlencoded")
	if !equalJSON(p["config"], map[string]any{"minute": 20, "policy": "local"}) {
		t.Errorf("form plugin config %v", p["config"])
	}
}

func TestMultipartBody(t *testing.T) {
	c := newServer(t, nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range [][2]string{{"name", "svc"}, {"host", "example.com"}, {"port", "81"}, {"tags[1]", "a"}, {"tags[2]", "b"}} {
		_ = mw.WriteField(kv[0], kv[1])
	}
	fw, _ := mw.CreateFormFile("path", "path.txt")
	_, _ = fw.Write([]byte("/from-file"))
	_ = mw.Close()
	got := c.must(201, "POST", "/services", buf.Bytes(), mw.FormDataContentType())
	want := map[string]any{"name": "svc", "port": 81, "tags": []any{"a", "b"}, "path": "/from-file"}
	for k, v := range want {
		if !equalJSON(got[k], v) {
			t.Errorf("%s = %v; want %v", k, got[k], v)
		}
	}
}

func TestDecodeForm(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"a=1", `{"a":"1"}`},
		{"a=1&a=2", `{"a":["1","2"]}`},
		{"a[]=1", `{"a":["1"]}`},
		{"a[1]=x&a[2]=y", `{"a":{"1":"x","2":"y"}}`},
		{"a.b.c=1&a.b.d=2", `{"a":{"b":{"c":"1","d":"2"}}}`},
		{"config.list[1].x=1", `{"config":{"list":{"1":{"x":"1"}}}}`},
		{"a[x]=1", `{"a":{"x":"1"}}`},
		{"=1", `{}`},
	}
	for _, tt := range tests {
		vals, err := url.ParseQuery(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		got := string(mustJSON(decodeForm(vals)))
		if got != tt.want {
			t.Errorf("decodeForm(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzDecodeBody feeds arbitrary bodies through every decoder: no panic,
// and a decoded body is always a JSON-encodable object.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1]`, `{"a":{"b":[1,{"c":null}]}}`, "a=1&b[]=2&c[1]=3&d.e=4",
		"a[=1", "a]]=1&a[[=2", "....=1", `{"a":"\"}"}`, "[[[[[[", `{"a":` + "\x00"} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	cts := []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xx", "text/plain"}
	f.Fuzz(func(t *testing.T, data []byte, ct uint8) {
		r := newTestRequest(cts[int(ct)%len(cts)], data)
		m, _, err := decodeBody(r, data)
		if err != nil {
			if toError(err).Status >= 500 {
				t.Fatalf("decoder error maps to %d", toError(err).Status)
			}
			return
		}
		if m == nil {
			t.Fatal("nil map without an error")
		}
		if _, err := jsonMarshal(m); err != nil {
			t.Fatalf("decoded body does not encode: %v", err)
		}
	})
}

// FuzzLuaNumber: luaNumber accepts exactly decimal or exponent notation
// and hexadecimal integers, and agrees with strconv on them.
func FuzzLuaNumber(f *testing.F) {
	for _, s := range []string{"10", " 2 ", "1e2", "0x10", "-0X1f", "Inf", "NaN", "1_0", "0x", "2p1", ".5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := luaNumber(s)
		if err != nil {
			return
		}
		v := strings.TrimSpace(s)
		h := strings.TrimPrefix(v, "-")
		if strings.HasPrefix(h, "0x") || strings.HasPrefix(h, "0X") {
			u, perr := strconv.ParseUint(h[2:], 16, 64)
			want := float64(u)
			if h != v {
				want = -want
			}
			if perr != nil || got != want {
				t.Fatalf("luaNumber(%q) = %v; hex parse %v, %v", s, got, u, perr)
			}
			return
		}
		want, perr := strconv.ParseFloat(v, 64)
		if perr != nil || got != want || strings.Trim(v, "0123456789.eE+-") != "" {
			t.Fatalf("luaNumber(%q) = %v; ParseFloat %v, %v", s, got, want, perr)
		}
	})
}
