package admin

// Cases translated from Kong's own Admin API integration specs
// (Kong/kong spec/02-integration/04-admin_api/*), each naming its file.
// They assert Kong's status codes, bodies and error messages as sluice
// answers them over a real socket on the embedded store.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	// Kong's bundled plugins used by the specs.
	_ "sluice/internal/plugin/basicauth"
	_ "sluice/internal/plugin/cors"
	_ "sluice/internal/plugin/keyauth"
)

const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

// multipartBody encodes fields as multipart/form-data; it returns the body
// and its content type.
func multipartBody(t testing.TB, fields [][2]string) (string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), w.FormDataContentType()
}

// sendAs sends fields as a form-encoded, multipart or JSON body (JSON: a
// flat object of the same strings, numbers left as strings unless the
// caller passes a map).
func (c *client) sendAs(ct, method, path string, fields [][2]string, jsonBody map[string]any) *resp {
	c.t.Helper()
	switch ct {
	case ctForm:
		v := url.Values{}
		for _, f := range fields {
			v.Add(f[0], f[1])
		}
		return c.do(method, path, v.Encode(), ctForm)
	case "multipart":
		body, mct := multipartBody(c.t, fields)
		return c.do(method, path, body, mct)
	}
	return c.do(method, path, jsonBody)
}

func wantBody(t *testing.T, r *resp, status int, body string) {
	t.Helper()
	if r.status != status || string(r.raw) != body {
		t.Errorf("got %d %s\nwant %d %s", r.status, r.raw, status, body)
	}
}

// 10-services_routes_spec.lua: POST /services with each content type.
func TestKongSpecServicesCreate(t *testing.T) {
	c := newServer(t, nil)
	for _, ct := range []string{ctForm, "multipart", ctJSON} {
		r := c.sendAs(ct, "POST", "/services", [][2]string{{"protocol", "http"}, {"host", "service.com"}},
			map[string]any{"protocol": "http", "host": "service.com"})
		if r.status != 201 {
			t.Fatalf("%s: %d %s", ct, r.status, r.raw)
		}
		j := r.json(t)
		if j["name"] != nil || j["port"] != 80.0 || j["connect_timeout"] != 60000.0 || j["write_timeout"] != 60000.0 ||
			j["read_timeout"] != 60000.0 || j["host"] != "service.com" {
			t.Errorf("%s: %s", ct, r.raw)
		}
		r = c.sendAs(ct, "POST", "/services", [][2]string{{"url", "https://service.com/"}}, map[string]any{"url": "https://service.com/"})
		if j := r.json(t); r.status != 201 || j["port"] != 443.0 || j["path"] != "/" || j["protocol"] != "https" {
			t.Errorf("%s url: %d %s", ct, r.status, r.raw)
		}
		for _, u := range []string{"", " "} {
			if r := c.sendAs(ct, "POST", "/services", [][2]string{{"url", u}}, map[string]any{"url": u}); r.status != 400 {
				t.Errorf("%s url %q: %d %s", ct, u, r.status, r.raw)
			}
		}
		r = c.sendAs(ct, "POST", "/services", [][2]string{{"url", "invalid url"}}, map[string]any{"url": "invalid url"})
		wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"2 schema violations (host: required field missing; path: should start with: /)","fields":{"host":"required field missing","path":"should start with: /"}}`)
		r = c.sendAs(ct, "POST", "/services", nil, map[string]any{})
		if j := r.json(t); r.status != 400 || fmt.Sprint(j["fields"]) != "map[host:required field missing]" {
			t.Errorf("%s empty: %d %s", ct, r.status, r.raw)
		}
	}
	r := c.do("POST", "/services", `{"hello": "world"`, ctJSON)
	wantBody(t, r, 400, `{"message":"Cannot parse JSON body"}`)
}

// 10-services_routes_spec.lua: GET /services, empty and paged; invalid
// filters and bodies are ignored.
func TestKongSpecServicesList(t *testing.T) {
	c := newServer(t, nil)
	wantBody(t, c.do("GET", "/services", nil), 200, `{"data":[],"next":null}`)
	wantBody(t, c.do("GET", "/services?foo=bar", nil), 200, `{"data":[],"next":null}`)
	if r := c.do("GET", "/services", "this fails if decoded as json", ctJSON); r.status != 200 {
		t.Errorf("invalid body on GET: %d", r.status)
	}
	var ids []string
	for i := 0; i < 10; i++ {
		j := c.must(201, "POST", "/services", map[string]any{"name": fmt.Sprintf("svc-%d", i), "host": "a.test"})
		ids = append(ids, j["id"].(string))
	}
	sort.Strings(ids)
	var got []string
	offset := ""
	for i := 1; i <= 4; i++ {
		q := "/services?size=3"
		if offset != "" {
			q += "&offset=" + url.QueryEscape(offset)
		}
		j := c.must(200, "GET", q, nil)
		data := j["data"].([]any)
		want := 3
		if i == 4 {
			want = 1
		}
		if len(data) != want {
			t.Fatalf("page %d: %d entries; want %d", i, len(data), want)
		}
		for _, d := range data {
			got = append(got, d.(map[string]any)["id"].(string))
		}
		offset, _ = j["offset"].(string)
	}
	if offset != "" {
		t.Errorf("last page has an offset")
	}
	// Kong's PostgreSQL strategy orders pages by primary key.
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("pages in order\n%v\nwant id order\n%v", got, ids)
	}
}

// 10-services_routes_spec.lua: GET, PATCH and DELETE /services/{service}.
func TestKongSpecServiceItem(t *testing.T) {
	c := newServer(t, nil)
	svc := c.must(201, "POST", "/services", map[string]any{"name": "svc", "host": "a.test"})
	id := svc["id"].(string)
	for _, k := range []string{id, "svc"} {
		if r := c.do("GET", "/services/"+k, "this fails if decoded as json", ctJSON); r.status != 200 {
			t.Errorf("GET %s: %d", k, r.status)
		}
	}
	wantBody(t, c.do("GET", "/services/not-found", nil), 404, `{"message":"Not found"}`)
	wantBody(t, c.do("GET", "/services/"+newUUID(), nil), 404, `{"message":"Not found"}`)

	// PATCH name to null (JSON) and protocol; by name with a form.
	j := c.must(200, "PATCH", "/services/svc", "protocol=https", ctForm)
	if j["protocol"] != "https" || j["name"] != "svc" || j["id"] != id {
		t.Errorf("PATCH by name: %v", j)
	}
	j = c.must(200, "PATCH", "/services/"+id, map[string]any{"name": nil, "protocol": "http"})
	if j["name"] != nil || j["protocol"] != "http" {
		t.Errorf("PATCH name null: %v", j)
	}
	// PATCH url sets protocol, host, port and path (path null without one).
	j = c.must(200, "PATCH", "/services/"+id, map[string]any{"url": "http://example.test:443"})
	if j["protocol"] != "http" || j["host"] != "example.test" || j["port"] != 443.0 || j["path"] != nil {
		t.Errorf("PATCH url: %v", j)
	}
	j = c.must(200, "PATCH", "/services/"+id, "url=https%3A%2F%2Fexample2.test%3A80%2F", ctForm)
	if j["protocol"] != "https" || j["host"] != "example2.test" || j["port"] != 80.0 || j["path"] != "/" {
		t.Errorf("PATCH url form: %v", j)
	}
	j = c.must(200, "PATCH", "/services/"+id, map[string]any{"url": "http://example2.test"})
	if j["port"] != 80.0 || j["path"] != nil {
		t.Errorf("PATCH url default port: %v", j)
	}
	// DELETE answers 204 with an empty body, found or not.
	for _, k := range []string{newUUID(), "not-found", id} {
		r := c.do("DELETE", "/services/"+k, nil)
		if r.status != 204 || len(r.raw) != 0 {
			t.Errorf("DELETE %s: %d %q", k, r.status, r.raw)
		}
	}
}

// 10-services_routes_spec.lua: /services/{service}/routes and /plugins.
func TestKongSpecServiceNested(t *testing.T) {
	c := newServer(t, nil)
	svc := c.must(201, "POST", "/services", map[string]any{"name": "svc", "host": "service.com"})
	sid := svc["id"].(string)
	rt := c.must(201, "POST", "/routes", map[string]any{"hosts": []any{"service.com"}, "service": map[string]any{"id": sid}})
	c.must(201, "POST", "/routes", map[string]any{"hosts": []any{"service.com"}})
	j := c.must(200, "GET", "/services/"+sid+"/routes", nil)
	if d := j["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != rt["id"] || j["next"] != nil {
		t.Errorf("routes of service: %v", j)
	}

	// Plugins by form (indexed arrays) and JSON, by service id and name.
	j = c.must(201, "POST", "/services/"+sid+"/plugins", "name=key-auth&config.key_names[1]=apikey&config.key_names[2]=key", ctForm)
	if fmt.Sprint(j["config"].(map[string]any)["key_names"]) != "[apikey key]" {
		t.Errorf("form plugin: %v", j)
	}
	c.must(201, "POST", "/services/svc/plugins", map[string]any{"name": "cors"})
	r := c.do("POST", "/services/"+sid+"/plugins", map[string]any{})
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (name: required field missing)","fields":{"name":"required field missing"}}`)
	c.must(201, "POST", "/services/"+sid+"/plugins", map[string]any{"name": "basic-auth"})
	r = c.do("POST", "/services/"+sid+"/plugins", "name=basic-auth", ctForm)
	wantBody(t, r, 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{consumer=null,name=\"basic-auth\",route=null,service={id=\"`+sid+`\"}}'","fields":{"consumer":null,"name":"basic-auth","route":null,"service":{"id":"`+sid+`"}}}`)

	// PATCH a plugin under its service: unknown field, then enabled.
	pid := j["id"].(string)
	r = c.do("PATCH", "/services/"+sid+"/plugins/"+pid, map[string]any{"foo": "bar"})
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (foo: unknown field)","fields":{"foo":"unknown field"}}`)
	j = c.must(200, "PATCH", "/services/"+sid+"/plugins/"+pid, map[string]any{"enabled": false})
	if j["enabled"] != false || fmt.Sprint(j["config"].(map[string]any)["key_names"]) != "[apikey key]" {
		t.Errorf("PATCH enabled: %v", j)
	}
	c.must(404, "PATCH", "/services/"+sid+"/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", map[string]any{"enabled": false})
	// Removing the foreign key.
	j = c.must(200, "PATCH", "/services/"+sid+"/plugins/"+pid, map[string]any{"service": nil})
	if j["service"] != nil {
		t.Errorf("PATCH service null: %v", j)
	}
	if r := c.do("GET", "/services/"+sid+"/plugins", "this fails if decoded as json", ctJSON); r.status != 200 || strings.Count(string(r.raw), `"name":"`) != 2 {
		t.Errorf("plugins of service: %d %s", r.status, r.raw)
	}
	// Deleting a service that routes use: Kong's restrict foreign key error.
	r = c.do("DELETE", "/services/"+sid, nil)
	wantBody(t, r, 400, `{"code":4,"name":"foreign key violation","message":"an existing 'routes' entity references this 'services' entity","fields":{"@referenced_by":"routes"}}`)
}

// expiredCA is a CA certificate whose "Not After" has passed.
func expiredCA(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "old CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// 16-ca_certificates_routes_spec.lua; the referenced delete is Kong's
// kong/db/dao/ca_certificates.lua (its DAO spec: "can't delete ca
// certificate that is referenced by services"), answered 400 with code 19
// per kong/api/endpoints.lua and kong/db/errors.lua.
func TestKongSpecCACertificates(t *testing.T) {
	c := newServer(t, nil)
	ca, _ := selfSigned(t, "My CA", true)
	leaf, _ := selfSigned(t, "leaf.test", false)
	old := expiredCA(t)
	msg := func(r *resp) string { return fmt.Sprint(r.json(t)["message"]) }
	if r := c.do("POST", "/ca_certificates", map[string]any{}); r.status != 400 || msg(r) != "schema violation (cert: required field missing)" {
		t.Errorf("missing cert: %d %s", r.status, r.raw)
	}
	const notCA = `schema violation (certificate does not appear to be a CA because it is missing the "CA" basic constraint)`
	const expired = `schema violation (certificate expired, "Not After" time is in the past)`
	if r := c.do("POST", "/ca_certificates", map[string]any{"cert": leaf}); r.status != 400 || msg(r) != notCA {
		t.Errorf("non CA: %d %s", r.status, r.raw)
	}
	if r := c.do("POST", "/ca_certificates", map[string]any{"cert": old}); r.status != 400 || msg(r) != expired {
		t.Errorf("expired: %d %s", r.status, r.raw)
	}
	if r := c.do("POST", "/ca_certificates", map[string]any{"cert": leaf + "\n" + leaf}); r.status != 400 || msg(r) != "schema violation (please submit only one certificate at a time)" {
		t.Errorf("two certs: %d %s", r.status, r.raw)
	}
	j := c.must(201, "POST", "/ca_certificates", map[string]any{"cert": ca})
	id := j["id"].(string)
	for _, m := range []string{"PATCH", "PUT"} {
		if r := c.do(m, "/ca_certificates/"+id, map[string]any{"cert": leaf}); r.status != 400 || msg(r) != notCA {
			t.Errorf("%s non CA: %d %s", m, r.status, r.raw)
		}
		if r := c.do(m, "/ca_certificates/"+id, map[string]any{"cert": old}); r.status != 400 || msg(r) != expired {
			t.Errorf("%s expired: %d %s", m, r.status, r.raw)
		}
	}
	if r := c.do("PUT", "/ca_certificates/"+id, map[string]any{}); r.status != 400 || msg(r) != "schema violation (cert: required field missing)" {
		t.Errorf("PUT missing cert: %d %s", r.status, r.raw)
	}
	c.must(200, "PUT", "/ca_certificates/123e4567-e89b-12d3-a456-426655440000", map[string]any{"cert": ca2(t)})
	if j := c.must(200, "GET", "/ca_certificates/123e4567-e89b-12d3-a456-426655440000", nil); j["cert"] == nil {
		t.Errorf("PUT created nothing")
	}

	// A CA certificate that a service lists cannot be deleted.
	svc := c.must(201, "POST", "/services", map[string]any{"url": "https://a.test", "ca_certificates": []any{id}})
	r := c.do("DELETE", "/ca_certificates/"+id, nil)
	wantBody(t, r, 400, `{"code":19,"name":"referenced by others","message":"ca certificate `+id+` is still referenced by services (id = `+svc["id"].(string)+`)"}`)
	c.must(200, "GET", "/ca_certificates/"+id, nil)
	c.must(200, "PATCH", "/services/"+svc["id"].(string), map[string]any{"ca_certificates": nil})
	c.must(204, "DELETE", "/ca_certificates/"+id, nil)
}

// ca2 is a second CA certificate (certificates are unique by digest).
func ca2(t testing.TB) string {
	pemText, _ := selfSigned(t, "Other CA", true)
	return pemText
}

// 09-routes_routes_spec.lua: /routes collection errors and methods.
func TestKongSpecRoutesCollection(t *testing.T) {
	c := newServer(t, nil)
	svc := c.must(201, "POST", "/services", map[string]any{"host": "a.test"})
	sid := svc["id"].(string)
	j := c.must(201, "POST", "/routes", map[string]any{"protocols": []any{"http"}, "hosts": []any{"my.route.com"}, "service": map[string]any{"id": sid}})
	if j["name"] != nil || j["paths"] != nil || j["preserve_host"] != false || j["strip_path"] != true || j["regex_priority"] != 0.0 {
		t.Errorf("route defaults: %v", j)
	}
	// Arrays from a form: repeated keys, [] and [n] suffixes.
	j = c.must(201, "POST", "/routes", "protocols=http&methods[]=GET&methods[]=POST&methods[]=PATCH&hosts[1]=foo.api.com&hosts[2]=bar.api.com&paths=/foo&paths=/bar&service.id="+sid, ctForm)
	if fmt.Sprint(j["methods"], j["hosts"], j["paths"]) != "[GET POST PATCH] [foo.api.com bar.api.com] [/foo /bar]" || j["service"].(map[string]any)["id"] != sid {
		t.Errorf("form route: %v", j)
	}
	// Headers (a map of arrays) from a form.
	j = c.must(201, "POST", "/routes", "paths[]=/h&headers.x-foo=a&headers.x-foo=b&headers.x-bar=c", ctForm)
	if fmt.Sprint(j["headers"]) != "map[x-bar:[c] x-foo:[a b]]" {
		t.Errorf("form headers: %v", j["headers"])
	}
	body, mct := multipartBody(t, [][2]string{{"paths[1]", "/mp"}, {"methods", "GET"}, {"strip_path", "false"}})
	j = c.must(201, "POST", "/routes", body, mct)
	if fmt.Sprint(j["paths"], j["methods"], j["strip_path"]) != "[/mp] [GET] false" {
		t.Errorf("multipart route: %v", j)
	}
	wantBody(t, c.do("POST", "/routes", `{"hello": "world"`, ctJSON), 400, `{"message":"Cannot parse JSON body"}`)
	for _, m := range []string{"DELETE", "PUT", "PATCH"} {
		wantBody(t, c.do(m, "/routes", map[string]any{}), 405, `{"message":"Method not allowed"}`)
	}
	wantBody(t, c.do("GET", "/routes?size=x", nil), 400, `{"code":9,"name":"invalid size","message":"size must be a number"}`)
	wantBody(t, c.do("GET", "/routes?size=potato", nil), 400, `{"code":9,"name":"invalid size","message":"size must be a number"}`)
	// size is read with Lua's tonumber (kong/api/endpoints.lua).
	for _, size := range []string{"0x2", "2e0", "%202%20"} {
		if j := c.must(200, "GET", "/routes?size="+size, nil); len(j["data"].([]any)) != 2 {
			t.Errorf("size=%s: %d entries; want 2", size, len(j["data"].([]any)))
		}
	}
	for _, size := range []string{"1_0", "0x", "2p1", "Inf", "NaN"} {
		wantBody(t, c.do("GET", "/routes?size="+size, nil), 400, `{"code":9,"name":"invalid size","message":"size must be a number"}`)
	}
	wantBody(t, c.do("GET", "/routes?offset=x", nil), 400, `{"code":7,"name":"invalid offset","message":"'x' is not a valid offset: bad base64 encoding"}`)
	wantBody(t, c.do("GET", "/routes?offset=%7Cpotato%7C", nil), 400, `{"code":7,"name":"invalid offset","message":"'|potato|' is not a valid offset: bad base64 encoding"}`)
	// Base64 of something that is not JSON.
	wantBody(t, c.do("GET", "/routes?offset=Zm9vYmFy", nil), 400, `{"code":7,"name":"invalid offset","message":"'Zm9vYmFy' is not a valid offset: bad json encoding"}`)
}

// 09-routes_routes_spec.lua: PUT, PATCH, DELETE /routes/{route} and
// /routes/{route}/service.
func TestKongSpecRouteItem(t *testing.T) {
	c := newServer(t, nil)
	svc := c.must(201, "POST", "/services", map[string]any{"host": "example.com", "path": "/"})
	sid := svc["id"].(string)
	id := newUUID()
	j := c.must(200, "PUT", "/routes/"+id, map[string]any{"paths": []any{"/updated-paths"}, "service": map[string]any{"id": sid}})
	if j["id"] != id || j["hosts"] != nil || j["methods"] != nil || fmt.Sprint(j["paths"]) != "[/updated-paths]" {
		t.Errorf("PUT by id: %v", j)
	}
	j = c.must(200, "PUT", "/routes/my-route", "paths[]=/updated-paths&service.id="+sid, ctForm)
	if j["name"] != "my-route" || fmt.Sprint(j["paths"]) != "[/updated-paths]" {
		t.Errorf("PUT by name: %v", j)
	}
	rid := j["id"].(string)
	j = c.must(200, "PUT", "/routes/my-route", map[string]any{"paths": []any{"/again"}})
	if j["id"] != rid || j["service"] != nil || fmt.Sprint(j["paths"]) != "[/again]" {
		t.Errorf("PUT by name replaces: %v", j)
	}
	wantBody(t, c.do("PUT", "/routes/"+rid, `{"hello": "world"`, ctJSON), 400, `{"message":"Cannot parse JSON body"}`)
	r := c.do("PUT", "/routes/"+rid, "paths[]=/&regex_priority=foobar", ctForm)
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (regex_priority: expected an integer)","fields":{"regex_priority":"expected an integer"}}`)
	r = c.do("PATCH", "/routes/"+rid, "regex_priority=foobar", ctForm)
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (regex_priority: expected an integer)","fields":{"regex_priority":"expected an integer"}}`)

	j = c.must(200, "PATCH", "/routes/my-route", map[string]any{"methods": nil, "hosts": nil, "paths": []any{"/updated-paths"}})
	if j["id"] != rid || fmt.Sprint(j["paths"]) != "[/updated-paths]" || j["hosts"] != nil {
		t.Errorf("PATCH by name: %v", j)
	}
	j = c.must(200, "PATCH", "/routes/"+rid, "strip_path=false", ctForm)
	if j["strip_path"] != false {
		t.Errorf("PATCH strip_path: %v", j)
	}
	j = c.must(200, "PATCH", "/routes/"+rid, map[string]any{"methods": nil, "paths": nil, "hosts": []any{"my-updated.tld"}})
	if j["paths"] != nil || fmt.Sprint(j["hosts"]) != "[my-updated.tld]" {
		t.Errorf("PATCH nulls: %v", j)
	}
	r = c.do("PATCH", "/routes/"+rid, map[string]any{"methods": []any{}, "paths": []any{}, "hosts": []any{"my-updated.tld"}})
	if r.status != 200 || !strings.Contains(string(r.raw), `"methods":[]`) || !strings.Contains(string(r.raw), `"paths":[]`) {
		t.Errorf("PATCH empty arrays: %d %s", r.status, r.raw)
	}
	c.must(404, "PATCH", "/routes/"+newUUID(), map[string]any{"paths": []any{"/x"}})

	// /routes/{route}/service
	c.must(200, "PATCH", "/routes/"+rid, map[string]any{"service": map[string]any{"id": sid}})
	for _, k := range []string{rid, "my-route"} {
		j = c.must(200, "GET", "/routes/"+k+"/service", nil)
		if j["id"] != sid || j["path"] != "/" {
			t.Errorf("GET /routes/%s/service: %v", k, j)
		}
	}
	c.must(404, "GET", "/routes/"+newUUID()+"/service", nil)
	j = c.must(200, "PATCH", "/routes/my-route/service", map[string]any{"read_timeout": 1000})
	if j["read_timeout"] != 1000.0 || j["id"] != sid {
		t.Errorf("PATCH route's service: %v", j)
	}
	// DELETE of the route's service is refused: 405 (Kong's
	// delete_entity_endpoint for a foreign entity).
	wantBody(t, c.do("DELETE", "/routes/my-route/service", nil), 405, `{"message":"Method not allowed"}`)
	for _, k := range []string{"my-route", newUUID()} {
		if r := c.do("DELETE", "/routes/"+k, nil); r.status != 204 || len(r.raw) != 0 {
			t.Errorf("DELETE %s: %d %s", k, r.status, r.raw)
		}
	}
}

// 09-routes_routes_spec.lua (the pending "409 on id conflict" case) and
// kong/db/strategies/postgres/init.lua toerror: a POST reusing an existing
// id is Kong's primary key violation, code 3, HTTP 400 (kong/api/
// endpoints.lua ERRORS_HTTP_CODES).
func TestKongSpecPrimaryKeyViolation(t *testing.T) {
	c := newServer(t, nil)
	rt := c.must(201, "POST", "/routes", map[string]any{"paths": []any{"/my-route"}})
	rid := rt["id"].(string)
	p := c.must(201, "POST", "/routes/"+rid+"/plugins", map[string]any{"name": "basic-auth"})
	pid := p["id"].(string)
	r := c.do("POST", "/routes/"+rid+"/plugins", map[string]any{"name": "key-auth", "id": pid})
	wantBody(t, r, 400, `{"code":3,"name":"primary key violation","message":"primary key violation on key '{id=\"`+pid+`\"}'","fields":{"id":"`+pid+`"}}`)
	r = c.do("POST", "/routes", map[string]any{"paths": []any{"/other"}, "id": rid})
	wantBody(t, r, 400, `{"code":3,"name":"primary key violation","message":"primary key violation on key '{id=\"`+rid+`\"}'","fields":{"id":"`+rid+`"}}`)
	// keyauth_credentials_pkey contains "key": Kong reports the id clash of
	// a key-auth credential as a unique violation on its key.
	c.must(201, "POST", "/consumers", map[string]any{"username": "bob"})
	ka := c.must(201, "POST", "/consumers/bob/key-auth", map[string]any{"key": "k1"})
	r = c.do("POST", "/consumers/bob/key-auth", map[string]any{"key": "k2", "id": ka["id"]})
	wantBody(t, r, 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{key=\"k2\"}'","fields":{"key":"k2"}}`)
	// The same plugin name on the route is a unique violation (409).
	r = c.do("POST", "/routes/"+rid+"/plugins", "name=basic-auth", ctForm)
	wantBody(t, r, 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{consumer=null,name=\"basic-auth\",route={id=\"`+rid+`\"},service=null}'","fields":{"consumer":null,"name":"basic-auth","route":{"id":"`+rid+`"},"service":null}}`)
	// PATCH /routes/{route}/service: bad input, url, unknown route.
	svc := c.must(201, "POST", "/services", map[string]any{"host": "example.com", "path": "/"})
	c.must(200, "PATCH", "/routes/"+rid, map[string]any{"service": map[string]any{"id": svc["id"]}})
	r = c.do("PATCH", "/routes/"+rid+"/service", "connect_timeout=foobar", ctForm)
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (connect_timeout: expected an integer)","fields":{"connect_timeout":"expected an integer"}}`)
	j := c.must(200, "PATCH", "/routes/"+rid+"/service", "url=http%3A%2F%2Fedited2.com%3A1234%2Ffoo", ctForm)
	if j["host"] != "edited2.com" || j["port"] != 1234.0 || j["path"] != "/foo" {
		t.Errorf("PATCH service url: %v", j)
	}
	c.must(404, "PATCH", "/routes/"+newUUID()+"/service", map[string]any{"name": "edited"})
	c.must(404, "DELETE", "/routes/"+newUUID()+"/service", nil)
	c.must(404, "DELETE", "/routes/in-existent-route/service", nil)
}

// 14-tags_spec.lua: ?tags= filters, their errors and next, /tags and
// /tags/{tag}.
func TestKongSpecTags(t *testing.T) {
	c := newServer(t, nil)
	for i := 1; i <= 2; i++ {
		cons := c.must(201, "POST", "/consumers", map[string]any{"username": fmt.Sprintf("adminapi-filter-by-tag-%d", i),
			"tags": []any{"corp_a", fmt.Sprintf("consumer%d", i), "🦍"}})
		c.must(201, "POST", "/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 1}, "consumer": map[string]any{"id": cons["id"]},
			"tags": []any{"corp_a", fmt.Sprintf("consumer%d", i)}})
	}
	c.must(201, "POST", "/consumers", map[string]any{"username": "adminapi-filter-by-tag-3", "tags": []any{"consumer3"}})
	n := func(path string) int {
		t.Helper()
		return len(c.must(200, "GET", path, nil)["data"].([]any))
	}
	for path, want := range map[string]int{
		"/consumers?tags=corp_a": 2, "/consumers?tags=" + url.QueryEscape("🦍"): 2,
		"/consumers?tags=corp_a,consumer1": 1, "/consumers?tags=consumer2/consumer1": 2,
		// Nested collections ignore tags (Kong #6779).
		"/consumers/adminapi-filter-by-tag-1/plugins?tags=consumer2": 1,
	} {
		if got := n(path); got != want {
			t.Errorf("GET %s: %d entries; want %d", path, got, want)
		}
	}
	const badSyntax = `{"code":11,"name":"invalid options","message":"invalid option (tags: invalid filter syntax)","options":{"tags":"invalid filter syntax"}}`
	for _, q := range []string{"consumer3,consumer2/consumer1", "consumer3/consumer2,consumer1", "%FF"} {
		wantBody(t, c.do("GET", "/consumers?tags="+q, nil), 400, badSyntax)
	}
	j := c.must(200, "GET", "/consumers?tags=corp_a&size=1", nil)
	if next, _ := j["next"].(string); !strings.Contains(next, "tags=corp_a") || len(j["data"].([]any)) != 1 {
		t.Errorf("next %v", j)
	}
	// /tags lists every (entity, tag) pair; ?tags= is ignored.
	for path, want := range map[string]int{"/tags": 11, "/tags?tags=not_a_tag": 11, "/tags?tags=invalid@tag": 11,
		"/tags/corp_a": 4, "/tags/corp_a?tags=not_a_tag": 4} {
		if got := n(path); got != want {
			t.Errorf("GET %s: %d rows; want %d", path, got, want)
		}
	}
	wantBody(t, c.do("GET", "/tags/%FF", nil), 400, `{"code":10,"name":"invalid unique tag","message":"invalid utf-8 character sequence detected at position 1"}`)
}

// 03-consumers_routes_spec.lua: /consumers bodies, content types, errors,
// PUT by username and nested plugins.
func TestKongSpecConsumers(t *testing.T) {
	c := newServer(t, nil)
	const atLeastOne = `"@entity":["at least one of these fields must be non-empty: 'custom_id', 'username'"]`
	for _, ct := range []string{ctForm, "multipart", ctJSON} {
		name := "abc def " + ct // a space, for the urlencoded case
		r := c.sendAs(ct, "POST", "/consumers", [][2]string{{"username", name}}, map[string]any{"username": name})
		if r.status != 201 || r.json(t)["username"] != name {
			t.Errorf("%s create: %d %s", ct, r.status, r.raw)
		}
		r = c.sendAs(ct, "POST", "/consumers", nil, map[string]any{})
		if r.status != 400 || !strings.Contains(string(r.raw), atLeastOne) {
			t.Errorf("%s empty: %d %s", ct, r.status, r.raw)
		}
		r = c.sendAs(ct, "POST", "/consumers", [][2]string{{"username", name}}, map[string]any{"username": name})
		if r.status != 409 || r.json(t)["message"] != `UNIQUE violation detected on '{username="`+name+`"}'` {
			t.Errorf("%s conflict: %d %s", ct, r.status, r.raw)
		}
	}
	c.must(201, "POST", "/consumers", map[string]any{"username": "tom1", "custom_id": "cid"})
	r := c.do("POST", "/consumers", map[string]any{"username": "tom", "custom_id": "cid"})
	if r.status != 409 || r.json(t)["message"] != `UNIQUE violation detected on '{custom_id="cid"}'` {
		t.Errorf("custom_id conflict: %d %s", r.status, r.raw)
	}
	// Content types.
	if r := c.do("POST", "/consumers", `{"hello": "world"}`, "invalid"); r.status != 415 {
		t.Errorf("invalid content type: %d %s", r.status, r.raw)
	}
	if r := c.do("POST", "/consumers", "invalid"); r.status != 415 {
		t.Errorf("body without content type: %d %s", r.status, r.raw)
	}
	wantBody(t, c.do("POST", "/consumers", nil, ctJSON), 400, `{"message":"Cannot parse JSON body"}`)
	// kong/api/api_helpers.lua before_filter: any other content type is
	// refused even without a body.
	if r := c.do("POST", "/consumers", nil, "text/plain"); r.status != 415 {
		t.Errorf("empty text/plain body: %d %s", r.status, r.raw)
	}
	for _, ct := range []string{"multipart/form-data", ctForm, ""} {
		r := c.do("POST", "/consumers", nil, ct)
		if r.status != 400 || !strings.Contains(string(r.raw), atLeastOne) {
			t.Errorf("no body, content type %q: %d %s", ct, r.status, r.raw)
		}
	}
	for _, m := range []string{"DELETE", "PATCH"} {
		wantBody(t, c.do(m, "/consumers", map[string]any{}), 405, `{"message":"Method not allowed"}`)
	}
	// GET by escaped username, custom_id filter, 404.
	j := c.must(200, "GET", "/consumers/"+url.PathEscape("abc def "+ctJSON), nil)
	if j["username"] != "abc def "+ctJSON {
		t.Errorf("by escaped username: %v", j)
	}
	if d := c.must(200, "GET", "/consumers?custom_id=cid", nil)["data"].([]any); len(d) != 1 || d[0].(map[string]any)["username"] != "tom1" {
		t.Errorf("custom_id filter: %v", d)
	}
	c.must(404, "GET", "/consumers/_inexistent_", nil)
	c.must(404, "PATCH", "/consumers/_inexistent_", map[string]any{"username": "x"})
	if r := c.do("PATCH", "/consumers/tom1", `{"hello": "world"}`, "invalid"); r.status != 415 {
		t.Errorf("PATCH invalid content type: %d %s", r.status, r.raw)
	}
	wantBody(t, c.do("PATCH", "/consumers/tom1", nil, ctJSON), 400, `{"message":"Cannot parse JSON body"}`)
	j = c.must(200, "PATCH", "/consumers/tom1", "username=tom1&custom_id=cid", ctForm)
	if j["username"] != "tom1" || j["custom_id"] != "cid" {
		t.Errorf("PATCH same values: %v", j)
	}
	// PUT by id and by username; an empty PUT by username keeps the
	// username and clears custom_id.
	id := newUUID()
	j = c.must(200, "PUT", "/consumers/"+id, "custom_id=abc+def", ctForm)
	if j["id"] != id || j["custom_id"] != "abc def" {
		t.Errorf("PUT by id: %v", j)
	}
	j = c.must(200, "PUT", "/consumers/newbie", map[string]any{})
	if j["username"] != "newbie" || j["custom_id"] != nil {
		t.Errorf("PUT by username: %v", j)
	}
	j = c.must(200, "PUT", "/consumers/newbie", map[string]any{"custom_id": "x1"})
	nid := j["id"]
	j = c.must(200, "PUT", "/consumers/newbie", nil, ctForm)
	if j["id"] != nid || j["username"] != "newbie" || j["custom_id"] != nil {
		t.Errorf("empty PUT by username: %v", j)
	}
	r = c.do("PUT", "/consumers/"+newUUID(), map[string]any{})
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')","fields":{`+atLeastOne+`}}`)
	wantBody(t, c.do("PUT", "/consumers/newbie", `{"hello": "world"`, ctJSON), 400, `{"message":"Cannot parse JSON body"}`)

	// Plugins of a consumer: by id and username, 409, wrong consumer 404,
	// partial PATCH of config keeps the rest.
	p := c.must(201, "POST", "/consumers/newbie/plugins", "name=test-limit&config.minute=5&config.policy=redis", ctForm)
	r = c.do("POST", "/consumers/"+nid.(string)+"/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 1}})
	wantBody(t, r, 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{consumer={id=\"`+nid.(string)+`\"},name=\"test-limit\",route=null,service=null}'","fields":{"consumer":{"id":"`+nid.(string)+`"},"name":"test-limit","route":null,"service":null}}`)
	c.must(404, "GET", "/consumers/tom1/plugins/"+p["id"].(string), nil)
	c.must(404, "PATCH", "/consumers/newbie/plugins/b6cca0aa-4537-11e5-af97-23a06d98af51", map[string]any{})
	j = c.must(200, "PATCH", "/consumers/newbie/plugins/"+p["id"].(string), "config.minute=9", ctForm)
	if cfg := j["config"].(map[string]any); cfg["minute"] != 9.0 || cfg["policy"] != "redis" {
		t.Errorf("partial config PATCH: %v", cfg)
	}
	j = c.must(200, "PATCH", "/consumers/newbie/plugins/"+p["id"].(string), "name=test-limit&enabled=false", ctForm)
	if j["enabled"] != false {
		t.Errorf("PATCH enabled: %v", j)
	}
	for _, k := range []string{"newbie", id} {
		if r := c.do("DELETE", "/consumers/"+k, nil); r.status != 204 || len(r.raw) != 0 {
			t.Errorf("DELETE %s: %d %s", k, r.status, r.raw)
		}
	}
}

// 02-kong_routes_spec.lua: /, /endpoints, /status, /schemas and unknown
// paths.
func TestKongSpecKongRoutes(t *testing.T) {
	c := newServer(t, nil)
	get := c.do("GET", "/", nil)
	head := c.do("HEAD", "/", nil)
	if get.status != 200 || head.status != 200 || len(head.raw) != 0 || len(get.raw) == 0 {
		t.Fatalf("GET / %d, HEAD / %d %q", get.status, head.status, head.raw)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Server", "Access-Control-Allow-Origin"} {
		if get.header.Get(h) != head.header.Get(h) {
			t.Errorf("HEAD / header %s = %q; GET has %q", h, head.header.Get(h), get.header.Get(h))
		}
	}
	opt := c.do("OPTIONS", "/", nil)
	if opt.status != 204 || len(opt.raw) != 0 || opt.header.Get("Allow") != "GET, HEAD, OPTIONS" ||
		opt.header.Get("Access-Control-Allow-Methods") != "GET, HEAD, OPTIONS" || opt.header.Get("Access-Control-Allow-Origin") != "*" ||
		opt.header.Get("X-Kong-Admin-Latency") == "" {
		t.Errorf("OPTIONS /: %d %v", opt.status, opt.header)
	}
	root := get.json(t)
	if root["tagline"] != "Welcome to kong" || !uuidRe.MatchString(fmt.Sprint(root["node_id"])) || get.header.Get("Server") != "kong/"+fmt.Sprint(root["version"]) {
		t.Errorf("GET /: %v %v", root["tagline"], get.header.Get("Server"))
	}
	if _, ok := root["configuration"].(map[string]any); !ok {
		t.Errorf("GET / configuration: %v", root["configuration"])
	}
	if pids, ok := root["pids"].(map[string]any); !ok || pids["master"] == nil {
		t.Errorf("GET / pids: %v", root["pids"])
	}
	if _, ok := root["prng_seeds"]; ok {
		t.Errorf("GET / has prng_seeds")
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "GEEEET"} {
		wantBody(t, c.do(m, "/", map[string]any{}), 405, `{"message":"Method not allowed"}`)
	}
	eps := c.must(200, "GET", "/endpoints", nil)
	list := fmt.Sprint(eps["data"])
	for _, ep := range []string{"/plugins", "/basic-auths/{basicauth_credentials}"} {
		if !strings.Contains(list, ep+" ") && !strings.HasSuffix(list, ep+"]") {
			t.Errorf("/endpoints lacks %s", ep)
		}
	}
	st := c.must(200, "GET", "/status", nil)
	srv, _ := st["server"].(map[string]any)
	for _, k := range []string{"connections_accepted", "connections_active", "connections_handled", "connections_reading",
		"connections_writing", "connections_waiting", "total_requests"} {
		if _, ok := srv[k].(float64); !ok {
			t.Errorf("/status server.%s = %v", k, srv[k])
		}
	}
	if _, ok := st["configuration_hash"]; ok {
		t.Errorf("/status has a configuration_hash in DB mode")
	}
	wantBody(t, c.do("GET", "/status?unit=V", nil), 400, `{"message":"invalid unit 'V' (expected 'k/K', 'm/M', or 'g/G')"}`)
	vm := func(q string) any {
		j := c.must(200, "GET", "/status"+q, nil)
		return j["memory"].(map[string]any)["workers_lua_vms"].([]any)[0].(map[string]any)["http_allocated_gc"]
	}
	for q, re := range map[string]string{"": `^\d+\.\d\d MiB$`, "?unit=k": `^\d+\.\d\d KiB$`, "?scale=3": `^\d+\.\d\d\d MiB$`, "?unit=G&scale=0": `^\d+ GiB$`} {
		if v, ok := vm(q).(string); !ok || !regexp.MustCompile(re).MatchString(v) {
			t.Errorf("/status%s http_allocated_gc = %v; want %s", q, vm(q), re)
		}
	}
	if _, ok := vm("?unit=b").(float64); !ok {
		t.Errorf("/status?unit=b: %v is not a number", vm("?unit=b"))
	}

	for _, e := range []string{"services", "routes", "consumers", "plugins", "upstreams", "targets", "certificates", "snis",
		"ca_certificates", "keyauth_credentials", "basicauth_credentials", "jwt_secrets", "acls"} {
		if j := c.must(200, "GET", "/schemas/"+e, nil); j["fields"] == nil {
			t.Errorf("/schemas/%s has no fields", e)
		}
	}
	// The tags entity has a schema too (go-kong's schema test reads it).
	if j := c.must(200, "GET", "/schemas/tags", nil); !strings.Contains(fmt.Sprint(j["fields"]), "entity_name") {
		t.Errorf("/schemas/tags: %v", j)
	}
	wantBody(t, c.do("GET", "/schemas/not-present", nil), 404, `{"message":"No entity named 'not-present'"}`)
	wantBody(t, c.do("GET", "/schemas/plugins/not-present", nil), 404, `{"message":"No plugin named 'not-present'"}`)
	if j := c.must(200, "GET", "/schemas/plugins/key-auth", nil); j["fields"] == nil {
		t.Errorf("key-auth schema: %v", j)
	}
	j := c.must(200, "POST", "/schemas/services/validate", map[string]any{"host": "example.com"})
	if j["message"] != "schema validation successful" {
		t.Errorf("validate: %v", j)
	}
	c.must(200, "POST", "/schemas/plugins/validate", map[string]any{"name": "key-auth", "config": map[string]any{"key_names": []any{"foo", "bar"}, "hide_credentials": true}})
	if r := c.do("POST", "/schemas/plugins/validate", map[string]any{"name": "key-auth", "config": map[string]any{"keys": "foo"}}); r.status != 400 || r.json(t)["name"] != "schema violation" {
		t.Errorf("invalid plugin validate: %d %s", r.status, r.raw)
	}
	// 20-timers_spec.lua: the shape of GET /timers.
	tm := c.must(200, "GET", "/timers", nil)
	w, _ := tm["worker"].(map[string]any)
	stats, _ := tm["stats"].(map[string]any)
	fg, _ := stats["flamegraph"].(map[string]any)
	sys, _ := stats["sys"].(map[string]any)
	_, idOK := w["id"].(float64)
	_, countOK := w["count"].(float64)
	_, runningOK := fg["running"].(string)
	_, totalOK := sys["total"].(float64)
	_, waitingOK := sys["waiting"].(float64)
	if _, ok := stats["timers"].(map[string]any); !ok || !idOK || !countOK || !runningOK || !totalOK || !waitingOK {
		t.Errorf("GET /timers: %v", tm)
	}
	// Unknown paths: 404 "Not found" for every method, HEAD without body.
	if r := c.do("HEAD", "/non-existing", nil); r.status != 404 || len(r.raw) != 0 {
		t.Errorf("HEAD /non-existing: %d %q", r.status, r.raw)
	}
	for _, m := range []string{"OPTIONS", "GET", "POST", "PUT", "DELETE"} {
		wantBody(t, c.do(m, "/non-existing", nil), 404, `{"message":"Not found"}`)
	}
}

// 04-plugins_routes_spec.lua: /plugins and /plugins/{plugin}.
func TestKongSpecPlugins(t *testing.T) {
	c := newServer(t, nil)
	en := c.must(200, "GET", "/plugins/enabled", nil)
	if l, _ := en["enabled_plugins"].([]any); len(l) == 0 {
		t.Errorf("/plugins/enabled: %v", en)
	}
	var plugins []map[string]any
	for i := 1; i <= 3; i++ {
		svc := c.must(201, "POST", "/services", map[string]any{"name": fmt.Sprintf("service-%d", i), "host": "127.0.0.1", "port": 15555})
		c.must(201, "POST", "/routes", map[string]any{"service": map[string]any{"id": svc["id"]}, "hosts": []any{fmt.Sprintf("route_%d.test", i)}})
		plugins = append(plugins, c.must(201, "POST", "/plugins", map[string]any{"name": "key-auth", "service": map[string]any{"id": svc["id"]},
			"config": map[string]any{"key_names": []any{"testkey"}}}))
	}
	if n := len(c.must(200, "GET", "/plugins", nil)["data"].([]any)); n != 3 {
		t.Errorf("GET /plugins: %d", n)
	}
	for _, m := range []string{"DELETE", "PATCH"} {
		wantBody(t, c.do(m, "/plugins", map[string]any{}), 405, `{"message":"Method not allowed"}`)
	}
	p1 := plugins[0]["id"].(string)
	if r := c.do("GET", "/plugins/"+p1, nil); r.status != 200 || string(r.raw) != string(mustJSON(plugins[0])) {
		t.Errorf("GET plugin: %d %s\nwant %s", r.status, r.raw, mustJSON(plugins[0]))
	}
	c.must(404, "GET", "/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", nil)
	svc := c.must(201, "POST", "/services", map[string]any{"host": "a.test"})
	c.must(200, "PUT", "/plugins/"+newUUID(), map[string]any{"name": "key-auth", "service": map[string]any{"id": svc["id"]}})
	// PATCH with the whole plugin back (without created_at).
	p2 := c.must(200, "GET", "/plugins/"+plugins[1]["id"].(string), nil)
	delete(p2, "created_at")
	p2["enabled"] = false
	if j := c.must(200, "PATCH", "/plugins/"+p2["id"].(string), p2); j["enabled"] != false {
		t.Errorf("PATCH bis: %v", j)
	}
	r := c.do("PATCH", "/plugins/"+p1, map[string]any{"foo": "bar"})
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (foo: unknown field)","fields":{"foo":"unknown field"}}`)
	if j := c.must(200, "GET", "/plugins/"+p1, nil); fmt.Sprint(j["config"].(map[string]any)["key_names"]) != "[testkey]" {
		t.Errorf("plugin changed by a failed PATCH: %v", j)
	}
	c.must(404, "PATCH", "/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", map[string]any{"enabled": false})
	c.must(204, "DELETE", "/plugins/"+plugins[2]["id"].(string), nil)
	c.must(204, "DELETE", "/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", nil)
	wantBody(t, c.do("GET", "/schemas/plugins/foobar", nil), 404, `{"message":"No plugin named 'foobar'"}`)
}

// 06-certificates_routes_spec.lua and kong/db/dao/certificates.lua: snis
// of a certificate (sorted, [] when none, duplicates, taken names), by SNI
// lookups, PATCH keeping snis.
func TestKongSpecCertificates(t *testing.T) {
	c := newServer(t, nil)
	cert, key := selfSigned(t, "foo.com", false)
	j := c.must(201, "POST", "/certificates", "cert="+url.QueryEscape(cert)+"&key="+url.QueryEscape(key)+"&snis[]=foo.com&snis[]=bar.com", ctForm)
	if fmt.Sprint(j["snis"]) != "[bar.com foo.com]" {
		t.Errorf("snis sorted: %v", j["snis"])
	}
	fooID := j["id"].(string)
	r := c.do("POST", "/certificates", map[string]any{"cert": cert, "key": key})
	if r.status != 201 || !strings.Contains(string(r.raw), `"snis":[]`) {
		t.Errorf("no snis: %d %s", r.status, r.raw)
	}
	r = c.do("POST", "/certificates", map[string]any{"cert": cert, "key": key, "snis": []any{"foobar.com", "baz.com", "foobar.com"}})
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (snis: foobar.com is duplicated)","fields":{"snis":"foobar.com is duplicated"}}`)
	r = c.do("POST", "/certificates", map[string]any{"cert": cert, "key": key, "snis": []any{"foo.com"}})
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (snis: foo.com already associated with existing certificate '`+fooID+`')","fields":{"snis":"foo.com already associated with existing certificate '`+fooID+`'"}}`)
	if n := len(c.must(200, "GET", "/snis", nil)["data"].([]any)); n != 2 {
		t.Errorf("%d snis after refused writes; want 2", n)
	}
	if n := len(c.must(200, "GET", "/certificates", nil)["data"].([]any)); n != 2 {
		t.Errorf("%d certificates after refused writes; want 2", n)
	}
	// By SNI name.
	if j := c.must(200, "GET", "/certificates/foo.com", nil); j["id"] != fooID {
		t.Errorf("GET by sni: %v", j["id"])
	}
	wantBody(t, c.do("GET", "/certificates/nosuch.com", nil), 404, `{"message":"SNI not found"}`)
	// PATCH without snis keeps them; with snis replaces them.
	j = c.must(200, "PATCH", "/certificates/"+fooID, map[string]any{"tags": []any{"t"}})
	if fmt.Sprint(j["snis"]) != "[bar.com foo.com]" {
		t.Errorf("PATCH kept snis: %v", j["snis"])
	}
	j = c.must(200, "PATCH", "/certificates/"+fooID, map[string]any{"snis": []any{"baz.com"}})
	if fmt.Sprint(j["snis"]) != "[baz.com]" {
		t.Errorf("PATCH snis: %v", j["snis"])
	}
	if n := len(c.must(200, "GET", "/snis", nil)["data"].([]any)); n != 1 {
		t.Errorf("%d snis after PATCH; want 1", n)
	}
	// PUT /certificates/{new sni} creates a certificate with that SNI.
	j = c.must(200, "PUT", "/certificates/new.com", map[string]any{"cert": cert, "key": key})
	if fmt.Sprint(j["snis"]) != "[new.com]" {
		t.Errorf("PUT by new sni: %v", j["snis"])
	}
	// The URL's SNI joins the body's as a set (no "is duplicated").
	j = c.must(200, "PUT", "/certificates/both.com", map[string]any{"cert": cert, "key": key, "snis": []any{"both.com", "other.com"}})
	if fmt.Sprint(j["snis"]) != "[both.com other.com]" {
		t.Errorf("PUT by new sni with it in the body: %v", j["snis"])
	}
	// Deleting a certificate deletes its SNIs.
	c.must(204, "DELETE", "/certificates/"+fooID, nil)
	c.must(404, "GET", "/snis/baz.com", nil)
}

// spec/03-plugins/09-key-auth/01-api_spec.lua: the key-auth credential
// endpoints nested under consumers and at /key-auths.
func TestKongSpecKeyAuthAPI(t *testing.T) {
	c := newServer(t, nil)
	bob := c.must(201, "POST", "/consumers", map[string]any{"username": "bob"})
	bid := bob["id"].(string)
	j := c.must(201, "POST", "/consumers/bob/key-auth", map[string]any{"key": "1234"})
	if j["key"] != "1234" || j["consumer"].(map[string]any)["id"] != bid {
		t.Errorf("create with key: %v", j)
	}
	k1 := c.must(201, "POST", "/consumers/bob/key-auth", map[string]any{})["key"]
	k2 := c.must(201, "POST", "/consumers/bob/key-auth", "", ctForm)["key"]
	if k1 == nil || k1 == k2 || k1 == "" {
		t.Errorf("generated keys %v %v", k1, k2)
	}
	if n := len(c.must(200, "GET", "/consumers/bob/key-auth", nil)["data"].([]any)); n != 3 {
		t.Errorf("%d credentials; want 3", n)
	}
	cred := c.must(200, "GET", "/consumers/bob/key-auth/1234", nil)
	cid := cred["id"].(string)
	c.must(200, "GET", "/consumers/bob/key-auth/"+cid, nil)
	c.must(201, "POST", "/consumers", map[string]any{"username": "alice"})
	c.must(404, "GET", "/consumers/alice/key-auth/"+cid, nil)
	// PUT by key and by a new id.
	if j := c.must(200, "PUT", "/consumers/bob/key-auth/5678", map[string]any{}); j["key"] != "5678" || j["consumer"].(map[string]any)["id"] != bid {
		t.Errorf("PUT by key: %v", j)
	}
	if j := c.must(200, "PUT", "/consumers/bob/key-auth/c16bbff7-5d0d-4a28-8127-1ee581898f11", map[string]any{}); j["key"] == nil || j["id"] != "c16bbff7-5d0d-4a28-8127-1ee581898f11" {
		t.Errorf("PUT by id: %v", j)
	}
	if j := c.must(200, "PATCH", "/consumers/bob/key-auth/"+cid, map[string]any{"key": "4321"}); j["key"] != "4321" {
		t.Errorf("PATCH by id: %v", j)
	}
	if j := c.must(200, "PATCH", "/consumers/bob/key-auth/4321", map[string]any{"key": "4321UPD"}); j["key"] != "4321UPD" {
		t.Errorf("PATCH by key: %v", j)
	}
	r := c.do("PATCH", "/consumers/bob/key-auth/"+cid, map[string]any{"key": 123})
	if r.status != 400 || fmt.Sprint(r.json(t)["fields"]) != "map[key:expected a string]" {
		t.Errorf("PATCH bad key: %d %s", r.status, r.raw)
	}
	c.must(404, "DELETE", "/consumers/bob/key-auth/blah", nil)
	c.must(404, "DELETE", "/consumers/bob/key-auth/00000000-0000-0000-0000-000000000000", nil)
	// /key-auths with and without a trailing slash, paged.
	for _, p := range []string{"/key-auths/", "/key-auths"} {
		if n := len(c.must(200, "GET", p, nil)["data"].([]any)); n != 5 {
			t.Errorf("GET %s: %d; want 5", p, n)
		}
	}
	p1 := c.must(200, "GET", "/key-auths?size=3", nil)
	p2 := c.must(200, "GET", "/key-auths?size=3&offset="+url.QueryEscape(p1["offset"].(string)), nil)
	if len(p2["data"].([]any)) != 2 || p2["offset"] != nil {
		t.Errorf("second page: %v", p2)
	}
	// /key-auths/{id or key}/consumer
	for _, k := range []string{cid, "4321UPD"} {
		if j := c.must(200, "GET", "/key-auths/"+k+"/consumer", nil); j["id"] != bid {
			t.Errorf("consumer of %s: %v", k, j)
		}
	}
	c.must(404, "GET", "/key-auths/"+newUUID()+"/consumer", nil)
	c.must(404, "GET", "/key-auths/randomstring/consumer", nil)
	c.must(204, "DELETE", "/consumers/bob/key-auth/"+cid, nil)
	// key_names are header names.
	rt := c.must(201, "POST", "/routes", map[string]any{"hosts": []any{"keyauth1.test"}})
	r = c.do("POST", "/plugins", map[string]any{"name": "key-auth", "route": map[string]any{"id": rt["id"]}, "config": map[string]any{"key_names": []any{`hello\world`}}})
	// Newer Kong specs read fields.config.key_names[1]: one error per element.
	if r.status != 400 || !strings.Contains(string(r.raw), `"key_names":["bad header name 'hello\\world', allowed characters are A-Z, a-z, 0-9, '_', and '-'"]`) {
		t.Errorf("bad key_names: %d %s", r.status, r.raw)
	}
}

// kong/plugins/acl/api.lua and daos.lua (endpoint_key "group"): an ACL is
// named by id or by group under its consumer.
func TestKongSpecACLByGroup(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/consumers", map[string]any{"username": "alice"})
	c.must(201, "POST", "/consumers", map[string]any{"username": "bob"})
	a := c.must(201, "POST", "/consumers/alice/acls", map[string]any{"group": "admins"})
	b := c.must(201, "POST", "/consumers/bob/acls", "group=admins", ctForm)
	if j := c.must(200, "GET", "/consumers/bob/acls/admins", nil); j["id"] != b["id"] {
		t.Errorf("bob's admins: %v", j["id"])
	}
	if j := c.must(200, "GET", "/consumers/alice/acls/admins", nil); j["id"] != a["id"] {
		t.Errorf("alice's admins: %v", j["id"])
	}
	c.must(404, "GET", "/consumers/bob/acls/nosuch", nil)
	j := c.must(200, "PATCH", "/consumers/bob/acls/admins", map[string]any{"tags": []any{"x"}})
	if j["id"] != b["id"] || fmt.Sprint(j["tags"]) != "[x]" {
		t.Errorf("PATCH by group: %v", j)
	}
	// PUT by group creates the consumer's ACL when missing.
	j = c.must(200, "PUT", "/consumers/bob/acls/ops", map[string]any{})
	if j["group"] != "ops" || j["consumer"].(map[string]any)["id"] == nil {
		t.Errorf("PUT by group: %v", j)
	}
	c.must(204, "DELETE", "/consumers/bob/acls/admins", nil)
	c.must(404, "DELETE", "/consumers/bob/acls/admins", nil)
	if j := c.must(200, "GET", "/consumers/alice/acls/admins", nil); j["id"] != a["id"] {
		t.Errorf("alice's admins after bob's delete: %v", j)
	}
	if j := c.must(200, "GET", "/acls/"+a["id"].(string)+"/consumer", nil); j["username"] != "alice" {
		t.Errorf("consumer of acl: %v", j)
	}
}

// kong/db/errors.lua foreign_key_violation_invalid_reference and
// foreign_keys_unresolved: a reference to a missing parent.
func TestKongSpecForeignKeyErrors(t *testing.T) {
	c := newServer(t, nil)
	id := newUUID()
	r := c.do("POST", "/routes", map[string]any{"paths": []any{"/x"}, "service": map[string]any{"id": id}})
	wantBody(t, r, 400, `{"code":4,"name":"foreign key violation","message":"the foreign key '{id=\"`+id+`\"}' does not reference an existing 'services' entity.","fields":{"service":{"id":"`+id+`"}}}`)
	r = c.do("POST", "/routes", "paths[]=/x&service.id="+id, ctForm)
	wantBody(t, r, 400, `{"code":4,"name":"foreign key violation","message":"the foreign key '{id=\"`+id+`\"}' does not reference an existing 'services' entity.","fields":{"service":{"id":"`+id+`"}}}`)
	r = c.do("POST", "/routes", map[string]any{"paths": []any{"/x"}, "service": map[string]any{"name": "nope"}})
	wantBody(t, r, 400, `{"code":13,"name":"foreign keys unresolved","message":"foreign key unresolved (service.name: the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity)","fields":{"service":{"name":"the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity"}}}`)
	if n := c.count("routes"); n != 0 {
		t.Errorf("%d routes written by refused requests", n)
	}
}

// 12-plugins-conf_spec.lua: the plugins setting decides what GET / lists
// as available and what can be configured.
func TestKongSpecPluginsConf(t *testing.T) {
	c := newServer(t, func(o *Options) { o.EnabledPlugins = []string{"key-auth", "basic-auth"} })
	avail := c.must(200, "GET", "/", nil)["plugins"].(map[string]any)["available_on_server"].(map[string]any)
	if len(avail) != 2 || avail["key-auth"] == nil || avail["basic-auth"] == nil {
		t.Errorf("available_on_server: %v", avail)
	}
	c.must(201, "POST", "/plugins/", map[string]any{"name": "key-auth"})
	ba := c.must(201, "POST", "/plugins/", map[string]any{"name": "basic-auth"})
	c.must(400, "POST", "/plugins/", map[string]any{"name": "cors"})
	j := c.must(200, "PATCH", "/plugins/"+ba["id"].(string), map[string]any{"config": map[string]any{"hide_credentials": true}})
	if j["config"].(map[string]any)["hide_credentials"] != true {
		t.Errorf("PATCH config: %v", j)
	}
	off := newServer(t, func(o *Options) { o.EnabledPlugins = []string{} })
	r := off.do("GET", "/", nil)
	if !strings.Contains(string(r.raw), `"available_on_server":{}`) || !strings.Contains(string(r.raw), `"enabled_in_cluster":[]`) {
		t.Errorf("plugins off: %s", r.raw)
	}
}

// 23-cors_spec.lua (no admin_gui_url): preflight methods per route,
// request headers and Origin echoed.
func TestKongSpecCORS(t *testing.T) {
	c := newServer(t, nil)
	send := func(method, path string, hdr map[string]string) *resp {
		t.Helper()
		req, _ := http.NewRequest(method, c.url+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return &resp{status: res.StatusCode, header: res.Header, raw: raw}
	}
	for path, want := range map[string]string{"/": "GET, HEAD, OPTIONS", "/routes": "GET, HEAD, OPTIONS, POST",
		"/routes/test": "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"} {
		r := send("OPTIONS", path, nil)
		if r.status != 204 || r.header.Get("Allow") != want || r.header.Get("Access-Control-Allow-Methods") != want {
			t.Errorf("OPTIONS %s: %d Allow %q", path, r.status, r.header.Get("Allow"))
		}
	}
	if r := send("OPTIONS", "/", nil); r.header.Get("Access-Control-Allow-Headers") != "Content-Type" || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight defaults: %v", r.header)
	}
	r := send("OPTIONS", "/", map[string]string{"Access-Control-Request-Headers": "X-Header-1,X-Header-2", "Origin": "http://example.com"})
	if r.header.Get("Access-Control-Allow-Headers") != "X-Header-1,X-Header-2" || r.header.Get("Access-Control-Allow-Origin") != "http://example.com" {
		t.Errorf("preflight echo: %v", r.header)
	}
	r = send("GET", "/", map[string]string{"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "X-Header-1", "Origin": "http://example.com"})
	if r.status != 200 || r.header.Get("Access-Control-Allow-Methods") != "" || r.header.Get("Access-Control-Allow-Headers") != "" ||
		r.header.Get("Access-Control-Allow-Origin") != "http://example.com" {
		t.Errorf("main request: %d %v", r.status, r.header)
	}
	if r := send("GET", "/", nil); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("main request without Origin: %v", r.header)
	}
}

// 21-truncated_arguments_spec.lua: more than 1000 query or form arguments.
func TestKongSpecTooManyArguments(t *testing.T) {
	c := newServer(t, nil)
	var items []string
	for i := 1; i <= 1001; i++ {
		items = append(items, fmt.Sprintf("config.allow=%d", i))
	}
	wantBody(t, c.do("POST", "/plugins", "name=ip-restriction&"+strings.Join(items, "&"), ctForm), 400, `{"message":"Too many arguments"}`)
	items = items[:0]
	for i := 1; i <= 1001; i++ {
		items = append(items, fmt.Sprintf("a=%d", i))
	}
	wantBody(t, c.do("GET", "/plugins?"+strings.Join(items, "&"), nil), 400, `{"message":"Too many arguments"}`)
	c.must(200, "GET", "/plugins?"+strings.Join(items[:1000], "&"), nil)
}

// 25-max_safe_integer_spec.lua: 2^53 is answered as a plain decimal.
func TestKongSpecMaxSafeInteger(t *testing.T) {
	c := newServer(t, nil)
	for _, body := range []any{
		map[string]any{"paths": []any{"/max"}, "regex_priority": 9007199254740992},
		"paths[]=/max2&regex_priority=9007199254740992",
	} {
		var r *resp
		if s, ok := body.(string); ok {
			r = c.do("POST", "/routes", s, ctForm)
		} else {
			r = c.do("POST", "/routes", body)
		}
		if r.status != 201 {
			t.Fatalf("POST: %d %s", r.status, r.raw)
		}
		id := r.json(t)["id"].(string)
		got := c.do("GET", "/routes/"+id, nil)
		if !strings.Contains(string(got.raw), `"regex_priority":9007199254740992`) {
			t.Errorf("GET: %s", got.raw)
		}
	}
}

// kong/db/dao/targets.lua page_for_upstream: GET /upstreams/{u}/targets
// lists newest first with numeric offsets; /targets/all pages the stored
// order.
func TestKongSpecUpstreamTargets(t *testing.T) {
	now := fixedNow
	c := newServer(t, func(o *Options) {
		o.Now = func() time.Time { now = now.Add(time.Second); return now }
	})
	c.must(201, "POST", "/upstreams", map[string]any{"name": "my_upstream"})
	var ids []string
	for i := 1; i <= 5; i++ {
		j := c.must(201, "POST", "/upstreams/my_upstream/targets/", map[string]any{"target": fmt.Sprintf("api-%d", i)})
		if j["target"] != fmt.Sprintf("api-%d:8000", i) || j["weight"] != 100.0 {
			t.Errorf("target defaults: %v", j)
		}
		ids = append(ids, j["id"].(string))
	}
	var got []string
	path := "/upstreams/my_upstream/targets?size=2"
	for path != "" {
		j := c.must(200, "GET", path, nil)
		for _, d := range j["data"].([]any) {
			got = append(got, d.(map[string]any)["id"].(string))
		}
		next, _ := j["next"].(string)
		if next != "" {
			if want := "/upstreams/my_upstream/targets?offset=" + j["offset"].(string); next != want {
				t.Errorf("next %q; want %q", next, want)
			}
			next += "&size=2"
		}
		path = next
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("targets\n%v\nwant newest first\n%v", got, want)
	}
	all := c.must(200, "GET", "/upstreams/my_upstream/targets/all", nil)["data"].([]any)
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	var allIDs []string
	for _, d := range all {
		allIDs = append(allIDs, d.(map[string]any)["id"].(string))
	}
	if fmt.Sprint(allIDs) != fmt.Sprint(sorted) {
		t.Errorf("targets/all %v; want id order %v", allIDs, sorted)
	}
	h := c.must(200, "GET", "/upstreams/my_upstream/health", nil)["data"].([]any)
	if len(h) != 5 || h[0].(map[string]any)["id"] != ids[4] {
		t.Errorf("health order: %v", h)
	}
	hp := c.must(200, "GET", "/upstreams/my_upstream/health?size=2&offset=2", nil)
	if d := hp["data"].([]any); len(d) != 2 || d[0].(map[string]any)["id"] != ids[2] || hp["next"] != "/upstreams/my_upstream/health?offset=4" {
		t.Errorf("health page: %v", hp)
	}
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		c.must(405, m, "/upstreams/my_upstream/targets/", map[string]any{"target": "mashape.com"})
	}
	c.must(400, "POST", "/upstreams/my_upstream/targets/", map[string]any{"target": "some invalid host name"})
	c.must(400, "POST", "/upstreams/my_upstream/targets/", map[string]any{"target": "mashape.com", "weight": 65536})
	wantBody(t, c.do("GET", "/upstreams/my_upstream/targets?offset=x", nil), 400, `{"code":7,"name":"invalid offset","message":"'x' is not a valid offset: bad base64 encoding"}`)
}

// kong/api/endpoints.lua get_collection_endpoint: a nested page's next
// names the parent as the request did and carries only the offset.
func TestKongSpecNestedNext(t *testing.T) {
	c := newServer(t, nil)
	svc := c.must(201, "POST", "/services", map[string]any{"name": "svc", "host": "a.test"})
	for i := 0; i < 3; i++ {
		c.must(201, "POST", "/services/svc/routes", map[string]any{"paths": []any{fmt.Sprintf("/r%d", i)}})
	}
	for _, k := range []string{"svc", svc["id"].(string)} {
		j := c.must(200, "GET", "/services/"+k+"/routes?size=2", nil)
		want := "/services/" + k + "/routes?offset=" + url.QueryEscape(j["offset"].(string))
		if j["next"] != want {
			t.Errorf("next %v; want %s", j["next"], want)
		}
		j = c.must(200, "GET", want+"&size=2", nil)
		if len(j["data"].([]any)) != 1 || j["next"] != nil {
			t.Errorf("second page: %v", j)
		}
	}
}

// 15-off_spec.lua: entity writes without a database.
func TestKongSpecOffEntities(t *testing.T) {
	c, _ := newDBless(t, 0)
	body := map[string]any{"protocols": []any{"http"}, "hosts": []any{"my.route.com"}, "service": map[string]any{"id": newUUID()}}
	const create = `{"code":12,"name":"operation unsupported","message":"cannot create 'routes' entities when not using a database"}`
	wantBody(t, c.do("POST", "/routes", body), 405, create)
	wantBody(t, c.do("POST", "/routes", "protocols=http&hosts[]=my.route.com&service.id="+newUUID(), ctForm), 405, create)
	for _, m := range []string{"DELETE", "PUT", "PATCH"} {
		wantBody(t, c.do(m, "/routes", map[string]any{"paths": []any{"/"}}), 405, `{"message":"Method not allowed"}`)
	}
	wantBody(t, c.do("PUT", "/routes/"+newUUID(), map[string]any{"paths": []any{"/"}, "service": map[string]any{"id": newUUID()}}), 405,
		`{"code":12,"name":"operation unsupported","message":"cannot create or update 'routes' entities when not using a database"}`)
	wantBody(t, c.do("POST", "/routes/"+newUUID(), map[string]any{"paths": []any{"/"}}), 405, `{"message":"Method not allowed"}`)
	wantBody(t, c.do("GET", "/routes?offset=x", nil), 400, `{"code":7,"name":"invalid offset","message":"'x' is not a valid offset: bad base64 encoding"}`)
	if r := c.do("GET", "/routes?offset=%7Cpotato%7C", nil); r.status != 400 || r.json(t)["code"] != 7.0 {
		t.Errorf("offset |potato|: %d %s", r.status, r.raw)
	}
}

// kong/db/dao/init.lua select_by/update_by/upsert_by/delete_by_<key>: an
// endpoint key in the URL is validated first; a bad one is invalid_unique
// (code 10, "invalid unique <field>", 400), whatever the method.
func TestKongSpecInvalidUniqueKey(t *testing.T) {
	c := newServer(t, nil)
	const bad = `{"code":10,"name":"invalid unique name","message":"invalid value 'my svc': the only accepted ascii characters are alphanumerics or ., -, _, and ~"}`
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		var body any
		if m == "PATCH" || m == "PUT" {
			body = map[string]any{"host": "a.test"}
		}
		wantBody(t, c.do(m, "/services/my%20svc", body), 400, bad)
	}
	wantBody(t, c.do("GET", "/services/my%20svc/routes", nil), 400, bad)
	// Valid names that match nothing stay 404 (204 for DELETE).
	c.must(404, "GET", "/services/my-svc", nil)
	c.must(204, "DELETE", "/services/my-svc", nil)
	// Consumers' usernames take any string.
	c.must(404, "GET", "/consumers/any%20thing", nil)
	if r := c.do("GET", "/upstreams/bad%20name", nil); r.status != 400 || r.json(t)["name"] != "invalid unique name" {
		t.Errorf("upstream by bad name: %d %s", r.status, r.raw)
	}
}

// Kong's docs upload certificates as files: curl -F "cert=@cert.pem"
// -F "key=@key.pem" -F "snis[]=a.test" /certificates (multipart parts with
// a filename; api_helpers parse_value reads their content).
func TestKongSpecMultipartFileUpload(t *testing.T) {
	c := newServer(t, nil)
	cert, key := selfSigned(t, "files.test", false)
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for name, content := range map[string]string{"cert": cert, "key": key} {
		fw, err := w.CreateFormFile(name, name+".pem")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write([]byte(content))
	}
	_ = w.WriteField("snis[]", "files.test")
	_ = w.Close()
	j := c.must(201, "POST", "/certificates", b.String(), w.FormDataContentType())
	if j["cert"] != cert || j["key"] != key || fmt.Sprint(j["snis"]) != "[files.test]" {
		t.Errorf("uploaded certificate: %v", j)
	}
}

// kong/api/routes/upstreams.lua: POST of a stored target updates it (200,
// Deprecation: true); /upstreams/{u}/targets/{t} GET hides weight 0, PUT
// and PATCH update an existing target only, DELETE of a missing one is
// 404.
func TestKongSpecTargetEndpoints(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	tg := c.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": "a.test:80", "weight": 10})
	r := c.do("POST", "/upstreams/u/targets", map[string]any{"target": "a.test:80", "weight": 20})
	if r.status != 200 || r.header.Get("Deprecation") != "true" || r.json(t)["weight"] != 20.0 || r.json(t)["id"] != tg["id"] {
		t.Errorf("POST of a stored target: %d %v %s", r.status, r.header.Get("Deprecation"), r.raw)
	}
	if n := c.count("targets"); n != 1 {
		t.Errorf("%d targets; want 1", n)
	}
	j := c.must(200, "PUT", "/upstreams/u/targets/a.test:80", map[string]any{"weight": 30})
	if j["weight"] != 30.0 || j["target"] != "a.test:80" {
		t.Errorf("PUT updates: %v", j)
	}
	c.must(404, "PUT", "/upstreams/u/targets/b.test:80", map[string]any{"weight": 30})
	c.must(404, "PATCH", "/upstreams/u/targets/"+newUUID(), map[string]any{"weight": 30})
	c.must(200, "GET", "/upstreams/u/targets/"+tg["id"].(string), nil)
	c.must(200, "PATCH", "/upstreams/u/targets/a.test:80", map[string]any{"weight": 0})
	c.must(404, "GET", "/upstreams/u/targets/a.test:80", nil)
	c.must(204, "DELETE", "/upstreams/u/targets/a.test:80", nil)
	c.must(404, "DELETE", "/upstreams/u/targets/a.test:80", nil)
	c.must(404, "GET", "/upstreams/nope/targets/a.test:80", nil)
}

// kong/api/arguments.lua infer_value: an empty form value is null, so a
// form can clear a field.
func TestKongSpecFormEmptyIsNull(t *testing.T) {
	c := newServer(t, nil)
	svc := c.must(201, "POST", "/services", map[string]any{"name": "svc", "host": "a.test"})
	j := c.must(200, "PATCH", "/services/"+svc["id"].(string), "name=", ctForm)
	if j["name"] != nil || j["host"] != "a.test" {
		t.Errorf("PATCH name=: %v", j)
	}
	rt := c.must(201, "POST", "/routes", map[string]any{"hosts": []any{"a.test"}, "paths": []any{"/a"}})
	j = c.must(200, "PATCH", "/routes/"+rt["id"].(string), "hosts=", ctForm)
	if j["hosts"] != nil || fmt.Sprint(j["paths"]) != "[/a]" {
		t.Errorf("PATCH hosts=: %v", j)
	}
}
