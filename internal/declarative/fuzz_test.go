package declarative

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/kong.yml"); err == nil {
		f.Add(data)
	}
	seeds := []string{
		`_format_version: "3.0"`,
		`{"_format_version":"3.0","services":[{"name":"s","host":"h","routes":[{"paths":["/"]}]}]}`,
		"_format_version: \"2.1\"\nroutes:\n- paths: [\"/a/(b|c)%2e\"]\n",
		"_format_version: \"3.0\"\nroutes:\n- name: r\n  service: nope\n",
		"_format_version: \"3.0\"\nservices:\n- name: s\n  routes:\n  - service: x\n    plugins: [{name: p, route: y}]\n",
		"_format_version: \"3.0\"\nupstreams:\n- name: u\n  targets: [{target: a}, {target: a}]\n",
		"a: &a [*a]\n",
		"x: &x {y: *x}\n",
		"_format_version: \"3.0\"\nservices: [1, null, [], {}]\n",
		"- just\n- a list\n",
		"{",
		"",
		"_format_version: 3.0\n_transform: maybe\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, nil)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			var de *Error
			if errors.As(err, &de) {
				// every error body must render and flatten without panicking
				if _, jerr := json.Marshal(de.Body(false)); jerr != nil {
					t.Fatalf("body: %v", jerr)
				}
				if _, jerr := json.Marshal(de.Body(true)); jerr != nil {
					t.Fatalf("flattened body: %v", jerr)
				}
				if de.Error() == "" {
					t.Fatal("empty message")
				}
			}
			return
		}
		if _, err := Marshal(cfg); err != nil {
			t.Fatalf("Marshal of a parsed config: %v", err)
		}
	})
}
