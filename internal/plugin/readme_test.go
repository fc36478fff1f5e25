package plugin_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"sluice/internal/plugin"

	// Every bundled plugin, so that its README can be checked against its
	// schema.
	_ "sluice/internal/bundled"
)

var readmeSections = []string{"What it does", "Configuration", "Examples", "Metrics", "Differences from Kong"}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestPluginReadmes checks that every plugin folder has a README.md titled
// with a registered plugin's name, with the fixed sections in order, and
// that each yaml example's plugin entries validate against the schema.
func TestPluginReadmes(t *testing.T) {
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), "testdata") {
			continue
		}
		gofiles, _ := filepath.Glob(filepath.Join(d.Name(), "*.go"))
		if len(gofiles) == 0 {
			continue // a plugin being written
		}
		checked++
		t.Run(d.Name(), func(t *testing.T) { checkReadme(t, d.Name()) })
	}
	if checked == 0 {
		t.Fatal("no plugin folders found")
	}
}

func checkReadme(t *testing.T, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatalf("README: %v", err)
	}
	text := string(b)
	title, _, _ := strings.Cut(text, "\n")
	name := strings.TrimSpace(strings.TrimPrefix(title, "# "))
	def, ok := plugin.Lookup(name)
	if !strings.HasPrefix(title, "# ") || !ok {
		t.Fatalf("README title %q is not \"# <registered plugin name>\" (is the folder imported by readme_test.go?)", title)
	}
	pos := 0
	for _, s := range readmeSections {
		i := strings.Index(text[pos:], "\n## "+s+"\n")
		if i < 0 {
			t.Errorf("README lacks section %q (or it is out of order)", s)
			continue
		}
		pos += i + 1
	}
	_, examples, _ := strings.Cut(text, "\n## Examples\n")
	examples, _, _ = strings.Cut(examples, "\n## ")
	blocks := yamlBlock.FindAllStringSubmatch(examples, -1)
	if len(blocks) == 0 {
		t.Fatal("Examples has no ```yaml block")
	}
	entries := 0
	for _, blk := range blocks {
		var doc struct {
			Plugins []map[string]any `yaml:"plugins"`
		}
		if err := yaml.Unmarshal([]byte(blk[1]), &doc); err != nil {
			t.Errorf("example is not YAML: %v", err)
			continue
		}
		for _, p := range doc.Plugins {
			if p["name"] != name {
				continue
			}
			entries++
			cfg, _ := p["config"].(map[string]any)
			if cfg == nil {
				cfg = map[string]any{}
			}
			if _, err := def.Schema.Process(cfg, nil); err != nil {
				t.Errorf("example config %v does not validate: %v", cfg, err)
			}
		}
	}
	if entries == 0 {
		t.Errorf("no example has a kong.yml plugins entry named %q", name)
	}
}
