package declarative

import (
	"errors"
	"strings"
	"testing"

	"sluice/internal/model"
)

// rateLimitingSchema is a small stand-in for a plugin's config schema.
var rateLimitingSchema = &model.Schema{Name: "rate-limiting", Fields: []*model.Field{
	{Name: "minute", Type: model.TypeNumber, Gt: model.Float(0)},
	{Name: "policy", Type: model.TypeString, Default: "local", OneOf: []any{"local", "redis"}},
}}

func lookupPlugins(name string) (*model.Schema, bool) {
	if name == "rate-limiting" {
		return rateLimitingSchema, true
	}
	return nil, false
}

func TestPluginSchemas(t *testing.T) {
	if !modelValidates() {
		t.Skip("model.Process does not validate yet")
	}
	opts := testOpts()
	opts.Plugins = lookupPlugins

	cfg, err := Parse([]byte(`_format_version: "3.0"
services:
- name: s
  host: h
  plugins:
  - name: rate-limiting
    config: {minute: 5}
`), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Plugins[0].Config["policy"]; got != "local" {
		t.Errorf("config default: got policy %v; want local", got)
	}

	tests := []struct {
		name, src string
		want      string
		field     string
	}{
		{
			name: "bad config value in a nested plugin",
			src: `_format_version: "3.0"
services:
- name: s
  host: h
  routes:
  - name: r
    paths: [/]
    plugins:
    - name: rate-limiting
      config: {minute: -1}
`,
			want:  `services[1].routes[1].plugins[1] (name "rate-limiting", line 9): config.minute: `,
			field: "config.minute",
		},
		{
			name: "plugin not enabled",
			src: `_format_version: "3.0"
plugins:
- name: no-such-plugin
`,
			want:  `plugins[1] (name "no-such-plugin", line 3): name: plugin 'no-such-plugin' not enabled; add it to the 'plugins' configuration property`,
			field: "name",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), opts)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("got %T %v; want *Error", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n  %s\nwant it to contain:\n  %s", err, tc.want)
			}
			flat := de.Flattened()
			if len(flat) != 1 || flat[0].EntityType != "plugin" || len(flat[0].Errors) == 0 || flat[0].Errors[0].Field != tc.field {
				t.Errorf("flattened: got %s; want one plugin error on field %s", mustJSON(t, flat), tc.field)
			}
		})
	}
}
