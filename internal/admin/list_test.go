package admin

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestPaging(t *testing.T) {
	c := newServer(t, nil)
	for i := 0; i < 250; i++ {
		c.must(201, "POST", "/services", map[string]any{"name": fmt.Sprintf("svc-%03d", i), "host": "a.com"})
	}
	seen := map[string]bool{}
	path := "/services?size=100"
	var sizes []int
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		body := c.must(200, "GET", path, nil)
		data := body["data"].([]any)
		sizes = append(sizes, len(data))
		for _, d := range data {
			id := d.(map[string]any)["id"].(string)
			if seen[id] {
				t.Errorf("service %s listed twice", id)
			}
			seen[id] = true
		}
		next, _ := body["next"].(string)
		off, hasOffset := body["offset"].(string)
		if next == "" {
			if hasOffset {
				t.Errorf("last page has an offset %q", off)
			}
			break
		}
		want := "/services?offset=" + url.QueryEscape(off) + "&size=100"
		if next != want {
			t.Errorf("next = %q; want %q", next, want)
		}
		path = next
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("page sizes %v; want [100 100 50]", sizes)
	}
	if len(seen) != 250 {
		t.Errorf("listed %d services; want 250", len(seen))
	}
	// Default page size is 100.
	body := c.must(200, "GET", "/services", nil)
	if n := len(body["data"].([]any)); n != 100 {
		t.Errorf("default page: %d services; want 100", n)
	}
}

func TestPagingErrors(t *testing.T) {
	c := newServer(t, nil)
	tests := []struct {
		query string
		want  string
	}{
		{"size=abc", `{"code":9,"name":"invalid size","message":"size must be a number"}`},
		{"size=0", `{"code":9,"name":"invalid size","message":"size must be an integer between 1 and 1000"}`},
		{"size=1001", `{"code":9,"name":"invalid size","message":"size must be an integer between 1 and 1000"}`},
		{"size=1.5", `{"code":9,"name":"invalid size","message":"size must be an integer between 1 and 1000"}`},
		{"offset=%21%21not-a-token", `{"code":7,"name":"invalid offset","message":"'!!not-a-token' is not a valid offset: bad base64 encoding"}`},
		{"tags=a,b/c", `{"code":11,"name":"invalid options","message":"invalid option (tags: invalid filter syntax)","options":{"tags":"invalid filter syntax"}}`},
		{"tags=a,b,c,d,e,f", `{"code":11,"name":"invalid options","message":"invalid option (tags: cannot query more than 5 tags)","options":{"tags":"cannot query more than 5 tags"}}`},
		{"tags=a,,b", `{"code":11,"name":"invalid options","message":"invalid option (tags: invalid filter syntax)","options":{"tags":"invalid filter syntax"}}`},
	}
	for _, tt := range tests {
		r := c.do("GET", "/services?"+tt.query, nil)
		if r.status != 400 || string(r.raw) != tt.want {
			t.Errorf("GET /services?%s: got %d %s; want 400 %s", tt.query, r.status, r.raw, tt.want)
		}
	}
}

func TestTagFilters(t *testing.T) {
	c := newServer(t, nil)
	for name, tags := range map[string][]any{
		"ab": {"a", "b"}, "a": {"a"}, "b": {"b"}, "c": {"c"}, "none": nil,
	} {
		c.must(201, "POST", "/services", map[string]any{"name": name, "host": "x.com", "tags": tags})
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"tags=a", []string{"a", "ab"}},
		{"tags=a,b", []string{"ab"}},
		{"tags=a/b", []string{"a", "ab", "b"}},
		{"tags=a/c", []string{"a", "ab", "c"}},
		{"tags=zzz", nil},
	}
	for _, tt := range tests {
		body := c.must(200, "GET", "/services?"+tt.query, nil)
		var got []string
		for _, d := range body["data"].([]any) {
			got = append(got, d.(map[string]any)["name"].(string))
		}
		sortStrings(got)
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("GET /services?%s: got %v; want %v", tt.query, got, tt.want)
		}
	}
	// The next link keeps the filter.
	body := c.must(200, "GET", "/services?tags=a/b&size=1", nil)
	if next, _ := body["next"].(string); !strings.Contains(next, "&tags=a%2Fb&size=1") {
		t.Errorf("next %q does not carry tags and size", next)
	}
	// GET /tags and /tags/{tag}.
	tags := c.must(200, "GET", "/tags", nil)
	if n := len(tags["data"].([]any)); n != 5 {
		t.Errorf("GET /tags: %d rows; want 5", n)
	}
	tags = c.must(200, "GET", "/tags/a", nil)
	for _, row := range tags["data"].([]any) {
		m := row.(map[string]any)
		if m["tag"] != "a" || m["entity_name"] != "services" || !isUUID(m["entity_id"].(string)) {
			t.Errorf("GET /tags/a row %v", m)
		}
	}
	if n := len(tags["data"].([]any)); n != 2 {
		t.Errorf("GET /tags/a: %d rows; want 2", n)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestConsumerByCustomID(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/consumers", map[string]any{"username": "u", "custom_id": "ext-1"})
	c.must(201, "POST", "/consumers", map[string]any{"username": "v", "custom_id": "ext-2"})
	body := c.must(200, "GET", "/consumers?custom_id=ext-2", nil)
	data := body["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["username"] != "v" {
		t.Errorf("GET /consumers?custom_id=ext-2: got %v; want consumer v", data)
	}
}

func TestParseTags(t *testing.T) {
	tests := []struct {
		in   string
		tags []string
		or   bool
		ok   bool
	}{
		{"a", []string{"a"}, false, true},
		{"a,b", []string{"a", "b"}, false, true},
		{"a/b", []string{"a", "b"}, true, true},
		{"a,b,", []string{"a", "b"}, false, true},
		{"with space", []string{"with space"}, false, true},
		{"ünï", []string{"ünï"}, false, true},
		{"a,b/c", nil, false, false},
		{",a", nil, false, false},
		{"", nil, false, false},
		{"a\x01", nil, false, false},
		{"a\x7f", nil, false, false},
	}
	for _, tt := range tests {
		tags, or, ok := parseTags(tt.in)
		if ok != tt.ok || (ok && (strings.Join(tags, "|") != strings.Join(tt.tags, "|") || or != tt.or)) {
			t.Errorf("parseTags(%q) = %q, %v, %v; want %q, %v, %v", tt.in, tags, or, ok, tt.tags, tt.or, tt.ok)
		}
	}
}

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"a", "a,b", "a/b", "a,b/c", ",", "a,,b", "x/", "ü,ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, or, ok := parseTags(s)
		if !ok {
			return
		}
		sep := ","
		if or {
			sep = "/"
		}
		if len(tags) == 0 {
			t.Fatalf("parseTags(%q) accepted no tags", s)
		}
		for _, tg := range tags {
			if tg == "" || strings.ContainsAny(tg, ",/") {
				t.Fatalf("parseTags(%q) gave tag %q", s, tg)
			}
		}
		if j := strings.Join(tags, sep); j != s && j+sep != s {
			t.Fatalf("parseTags(%q) = %q does not rebuild the input", s, tags)
		}
	})
}
