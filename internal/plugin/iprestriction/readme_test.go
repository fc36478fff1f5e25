package iprestriction

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestReadme checks the README's fixed sections and that its example
// loads: the plugin name matches and the config passes the schema.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.HasPrefix(doc, "# "+Name+"\n") {
		t.Errorf("README title is not %q", "# "+Name)
	}
	for _, s := range []string{"## What it does", "## Configuration", "## Examples", "## Metrics", "## Differences from Kong"} {
		if !strings.Contains(doc, "\n"+s+"\n") {
			t.Errorf("README lacks section %q", s)
		}
	}
	_, rest, ok := strings.Cut(doc, "```yaml\n")
	if !ok {
		t.Fatal("README has no yaml example")
	}
	example, _, _ := strings.Cut(rest, "```")
	var cfg struct {
		Plugins []struct {
			Name   string         `yaml:"name"`
			Config map[string]any `yaml:"config"`
		} `yaml:"plugins"`
	}
	if err := yaml.Unmarshal([]byte(example), &cfg); err != nil {
		t.Fatalf("example: %v", err)
	}
	if len(cfg.Plugins) != 1 || cfg.Plugins[0].Name != Name {
		t.Fatalf("example plugins = %+v; want one %s entry", cfg.Plugins, Name)
	}
	in := cfg.Plugins[0].Config
	if in == nil {
		in = map[string]any{}
	}
	if _, err := Schema.Process(in, nil); err != nil {
		t.Errorf("example config rejected: %v", err)
	}
}
