package declarative

import (
	"reflect"
	"strings"
	"testing"
)

// TestTemplateFallbackKeyTaken: an element whose template derived its id
// from a fallback key is decoded again when an earlier element of the file
// took that key, and gets the suffixed id the full parse gives it.
func TestTemplateFallbackKeyTaken(t *testing.T) {
	cert := `{"cert":` + testCert + `,"key":` + testKey + `}`
	reordered := `{"key":` + testKey + `,"cert":` + testCert + `}` // other text, same entity
	first := []byte(`{"_format_version":"3.0","certificates":[` + cert + `]}`)
	second := []byte(`{"_format_version":"3.0","certificates":[` + reordered + `,` + cert + `]}`)

	forgetMemo()
	prev := parseOver(t, first, nil, true)
	tmpl := templateFor(mustKey(t, first, cert))
	if tmpl == nil || tmpl.items[0].fallback == "" {
		t.Fatal("no template with a fallback key remembered for the certificate")
	}
	withTemplates := parseOver(t, second, prev, true)
	restore := setAsideMemo()
	full := parseOver(t, second, prev, false)
	restore()
	if !reflect.DeepEqual(withTemplates, full) {
		t.Fatalf("with templates: ids %s, %s; full parse: %s, %s",
			withTemplates.Certificates[0].ID, withTemplates.Certificates[1].ID, full.Certificates[0].ID, full.Certificates[1].ID)
	}
	if full.Certificates[0].ID == full.Certificates[1].ID {
		t.Fatal("two certificates with one id")
	}
	// (had the template been used, the duplicate id would have failed
	// the streamed parse and a full one would have given the same result:
	// check the template is refused, not only the outcome)
	if templateFor(mustKey(t, second, cert)) != nil {
		t.Error("a template remembered for an element whose id depends on the elements before it")
	}
	l := &loader{fallback: map[string]int{tmpl.items[0].fallback: 1}}
	if l.fromTemplate(tmpl, []byte(cert), 2) || len(l.items) != 0 {
		t.Fatal("a template was used although its fallback key was taken")
	}
}

// mustKey is the template key of element src of the certificates of data.
func mustKey(t *testing.T, data []byte, src string) fingerprint {
	t.Helper()
	l := &loader{version: "3.0", transform: true}
	if !strings.Contains(string(data), `"_format_version":"3.0"`) {
		t.Fatal("mustKey reads 3.0 files")
	}
	return l.elemKey(kindByName["certificates"], []byte(src))
}

// TestTemplatesSaveWork: with the templates of the previous parse, a
// reparse of an unchanged file decodes none of its elements, and
// allocates far less than with the memo alone.
func TestTemplatesSaveWork(t *testing.T) {
	data := generateChurnJSON(200, 1)
	forgetMemo()
	opts := testOpts()
	reparse := func(templates bool) func() {
		return func() {
			if !templates {
				lastElems.Store(nil)
			}
			cfg, err := Parse(data, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.Previous = cfg
		}
	}
	reparse(true)()
	with := testing.AllocsPerRun(3, reparse(true))
	without := testing.AllocsPerRun(3, reparse(false))
	t.Logf("allocations per parse: %v with templates and the memo, %v with the memo alone", with, without)
	if with*2 > without {
		t.Errorf("allocations with templates %v; want under half of the %v without", with, without)
	}
}
