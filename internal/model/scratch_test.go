package model

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestScratch(t *testing.T) {
	cases := []struct{ e, in string }{
		{"services", `{"url":"https://example.com:8443/foo"}`},
		{"services", `{"host":"x","protocol":"tcp","path":"/a","tls_verify":true,"bogus":1}`},
		{"routes", `{"paths":["/a","b","~/(?=x)","/a/../b","/%7efoo"]}`},
		{"routes", `{"protocols":["grpc"],"methods":["GET"],"strip_path":true}`},
		{"routes", `{"protocols":["http"],"snis":["a.com"]}`},
		{"routes", `{"protocols":["tcp"],"sources":[{"ip":"1.2.3.4"},{"port":"x"},{}]}`},
		{"routes", `{"protocols":["tls","tls_passthrough"],"snis":["a"]}`},
		{"routes", `{"hosts":["*.a.*","a.*.b","ok.com:80"],"headers":{"Host":["x"],"x-a":["~*b"]}}`},
		{"upstreams", `{"name":"up","hash_on":"header"}`},
		{"upstreams", `{"name":"1.2.3.4"}`},
		{"targets", `{"target":"1.2.3.4","upstream":{"id":"a4fbd24e-6a52-4937-bd78-2536713072d2"}}`},
		{"consumers", `{"tags":["a","a"]}`},
		{"plugins", `{"name":"x","config":{"a":1}}`},
		{"jwt_secrets", `{"consumer":{"id":"a4fbd24e-6a52-4937-bd78-2536713072d2"},"algorithm":"RS256"}`},
	}
	for _, c := range cases {
		var in map[string]any
		json.Unmarshal([]byte(c.in), &in)
		s, _ := Lookup(c.e)
		out, err := s.Process(in, nil)
		if err != nil {
			b, _ := json.Marshal(err.Fields)
			fmt.Println(c.e, err.Error(), string(b))
		} else {
			b, _ := json.Marshal(out)
			fmt.Println(c.e, "OK", string(b))
		}
	}
}

func TestScratchJSON(t *testing.T) {
	s, _ := Lookup("upstreams")
	b, err := json.Marshal(s)
	fmt.Println(string(b)[:1500], err)
}
