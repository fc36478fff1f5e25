package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// treeVariant is data with a duplicated top-level key that changes nothing
// (_ignore: null), which streamJSON refuses: its parse takes the path that
// decodes the whole file into a generic tree.
func treeVariant(data []byte) []byte {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil
	}
	rest := bytes.TrimLeft(trimmed[1:], " \t\r\n")
	sep := ","
	if len(rest) > 0 && rest[0] == '}' {
		sep = ""
	}
	return append([]byte(`{"_ignore":null,"_ignore":null`+sep), rest...)
}

// sameParse checks that a and b parse to the same config, or fail with the
// same error bodies.
func sameParse(t *testing.T, name string, a, b []byte) {
	t.Helper()
	forgetMemo()
	ca, ea := Parse(a, testOpts())
	forgetMemo()
	cb, eb := Parse(b, testOpts())
	if (ea == nil) != (eb == nil) {
		t.Fatalf("%s: errors %v and %v", name, ea, eb)
	}
	if ea == nil {
		if !reflect.DeepEqual(ca, cb) {
			t.Fatalf("%s: the configs differ", name)
		}
		return
	}
	if ea.Error() != eb.Error() {
		t.Fatalf("%s: error %q; want %q", name, ea, eb)
	}
	var da, db *Error
	if errors.As(ea, &da) != errors.As(eb, &db) {
		t.Fatalf("%s: error types %T, %T", name, ea, eb)
	}
	if da != nil {
		for _, flat := range []bool{false, true} {
			ja, _ := json.Marshal(da.Body(flat))
			jb, _ := json.Marshal(db.Body(flat))
			if !bytes.Equal(ja, jb) {
				t.Fatalf("%s: body (flattened %v):\n%s\nwant\n%s", name, flat, ja, jb)
			}
		}
	}
}

func TestStreamJSONSameAsTree(t *testing.T) {
	cases := map[string]string{
		"churn":                string(generateChurnJSON(50, 1)),
		"nested":               `{"_format_version":"3.0","services":[{"name":"s","host":"h","routes":[{"name":"r","paths":["/"],"plugins":[{"name":"p","config":{"a":[1,2.5,{"b":null}]}}]}],"plugins":[{"name":"q"}]}],"consumers":[{"username":"u","keyauth_credentials":[{"key":"k"}],"acls":[{"group":"g"}]}],"routes":[{"name":"r2","paths":["/x"],"service":"s"}]}`,
		"empty lists and null": `{"_format_version":"3.0","services":[],"routes":null,"_comment":"c"}`,
		"empty":                `{}`,
		// errors: the streamed parse reports them through a second parse
		"nested schema error":  `{"_format_version":"3.0","services":[{"name":"s","host":"h","routes":[{"name":"r","paths":["/"]},{"name":"r2","service":"x","paths":["/"],"tags":["t1"]}]}]}`,
		"dangling reference":   `{"_format_version":"3.0","routes":[{"name":"r","paths":["/"],"service":"nope"}]}`,
		"duplicate name":       `{"_format_version":"3.0","services":[{"name":"s","host":"a"},{"name":"s","host":"b"}]}`,
		"not a record":         `{"_format_version":"3.0","services":[1,null,{"name":"s","host":"h"}]}`,
		"unknown field":        `{"_format_version":"3.0","services":[{"name":"s","host":"h","colour":"red"}]}`,
		"unknown top-level":    `{"_format_version":"3.0","workspaces":[]}`,
		"list not an array":    `{"_format_version":"3.0","services":{"name":"s"}}`,
		"bad version":          `{"_format_version":"9","services":[{"name":"s","host":"h"}]}`,
		"duplicate custom_id":  `{"_format_version":"3.0","consumers":[{"username":"a","custom_id":"x"},{"username":"b","custom_id":"x"}]}`,
		"invalid value late":   `{"_format_version":"3.0","services":[{"name":"s","host":"h","port":99999}]}`,
		"generated credential": `{"_format_version":"3.0","consumers":[{"username":"a","keyauth_credentials":[{"tags":["x"]}]}]}`,
	}
	for name, src := range cases {
		if name == "generated credential" {
			// a drawn key differs from parse to parse: compare the rest
			a, err := Parse([]byte(src), testOpts())
			if err != nil || len(a.KeyAuthCredentials) != 1 || a.KeyAuthCredentials[0].Key == "" {
				t.Fatalf("%s: %v", name, err)
			}
			continue
		}
		sameParse(t, name, []byte(src), treeVariant([]byte(src)))
	}
	// and the YAML reading of the same text (JSON is YAML) when valid
	src := generateChurnJSON(50, 2)
	sameParse(t, "churn as YAML", src, append([]byte("# yaml\n"), src...))
}

func TestStreamJSONOverPrevious(t *testing.T) {
	// the memo and the stream together: over the previous result, equal
	// to the tree parse over the same previous result
	forgetMemo()
	prev, err := Parse(generateChurnJSON(100, 0), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	opts := testOpts()
	opts.Previous = prev
	streamed, err := Parse(generateChurnJSON(100, 1), opts)
	if err != nil {
		t.Fatal(err)
	}
	forgetMemo()
	tree, err := Parse(treeVariant(generateChurnJSON(100, 1)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(streamed, tree) {
		t.Fatal("streamed parse over the previous config differs from the tree parse")
	}
	for i := range tree.Routes {
		if (tree.Routes[i] == prev.Routes[i]) != (streamed.Routes[i] == prev.Routes[i]) {
			t.Errorf("route %d: reuse of the previous route differs", i)
		}
	}
	if !strings.Contains(string(generateChurnJSON(1, 0)), `"routes"`) {
		t.Fatal("the churn config has no nested routes")
	}
}

// FuzzStreamJSON: a JSON file parses the same streamed as through the
// whole-file tree.
func FuzzStreamJSON(f *testing.F) {
	for _, s := range []string{
		`{"_format_version":"3.0","services":[{"name":"s","host":"h","routes":[{"paths":["/"]}]}]}`,
		string(generateChurnJSON(3, 1)),
		`{"_format_version":"3.0","routes":[{"name":"r","paths":["/"],"service":"nope"}]}`,
		`{"_format_version":"3.0","services":[1,{"name":"s","host":"h","port":"x"}]}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		variant := treeVariant(data)
		if variant == nil || !json.Valid(data) {
			return
		}
		if bytes.Contains(data, []byte(`"_ignore"`)) {
			return // the variant's key would collide
		}
		if bytes.Contains(data, []byte(`"keyauth_credentials"`)) || bytes.Contains(data, []byte(`"jwt_secrets"`)) {
			return // generated keys are drawn at random
		}
		sameParse(t, "fuzz", data, variant)
	})
}
