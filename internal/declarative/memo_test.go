package declarative

import (
	"reflect"
	"strings"
	"testing"

	"sluice/internal/model"
)

// forgetMemo drops the memo and the element templates: the next parse
// does all the work.
func forgetMemo() {
	lastMemo.Lock()
	lastMemo.m = nil
	lastMemo.Unlock()
	lastElems.Store(nil)
}

// setAsideMemo forgets the memo and the element templates until the
// returned function puts them back.
func setAsideMemo() (restore func()) {
	lastMemo.Lock()
	saved := lastMemo.m
	lastMemo.Unlock()
	elems := lastElems.Load()
	forgetMemo()
	return func() {
		lastMemo.Lock()
		lastMemo.m = saved
		lastMemo.Unlock()
		lastElems.Store(elems)
	}
}

// parseOver parses data over prev, with the memo of prev when useMemo (prev
// must be the last parse's result) and without it otherwise.
func parseOver(t *testing.T, data []byte, prev *model.Config, useMemo bool) *model.Config {
	t.Helper()
	if !useMemo {
		forgetMemo()
	}
	opts := testOpts()
	if !strings.HasPrefix(string(data), "{") { // the churn JSON's plugins are not in lookupPlugins
		opts.Plugins = lookupPlugins
	}
	opts.Previous = prev
	cfg, err := Parse(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// sameAsFullParse checks that a parse that used the memo gave what the
// full parse gives: equal entities, and the previous entity itself exactly
// where the full parse reused it.
func sameAsFullParse(t *testing.T, name string, prevData, data []byte) {
	t.Helper()
	forgetMemo()
	prev := parseOver(t, prevData, nil, false)
	prev = parseOver(t, prevData, prev, true) // the memo now describes prev
	withMemo := parseOver(t, data, prev, true)
	full := parseOver(t, data, prev, false)
	if !reflect.DeepEqual(withMemo, full) {
		t.Fatalf("%s: the parse with the memo differs from the full parse", name)
	}
	cm, cf, cp := reflect.ValueOf(withMemo).Elem(), reflect.ValueOf(full).Elem(), reflect.ValueOf(prev).Elem()
	reused := 0
	for f := range cf.NumField() {
		prevPtrs := map[uintptr]bool{}
		for i := range cp.Field(f).Len() {
			prevPtrs[cp.Field(f).Index(i).Pointer()] = true
		}
		for i := range cf.Field(f).Len() {
			fromPrev := prevPtrs[cf.Field(f).Index(i).Pointer()]
			if fromPrev != prevPtrs[cm.Field(f).Index(i).Pointer()] {
				t.Errorf("%s: %s[%d]: taken from the previous config by the full parse: %v, with the memo: %v",
					name, cf.Type().Field(f).Name, i, fromPrev, !fromPrev)
			}
			if fromPrev {
				reused++
			}
		}
	}
	if reused == 0 {
		t.Errorf("%s: no entity reused: the test does not exercise the memo", name)
	}
}

func TestMemoSameAsFullParse(t *testing.T) {
	sameAsFullParse(t, "churn JSON", generateChurnJSON(300, 0), generateChurnJSON(300, 1))
	sameAsFullParse(t, "unchanged", generateChurnJSON(100, 2), generateChurnJSON(100, 2))
	yml := string(generateConfig(300))
	sameAsFullParse(t, "YAML, one plugin changed", []byte(yml), []byte(strings.Replace(yml, "config: {minute: 100}", "config: {minute: 7}", 1)))
	// a service's id changes: the routes that name it point elsewhere
	withID := strings.Replace(yml, "- name: svc-3\n", "- name: svc-3\n  id: 7c1ff5a4-5d4e-4f69-9a3a-2b8f5a7f8d11\n", 1)
	sameAsFullParse(t, "YAML, a referenced service gets an id", []byte(yml), []byte(withID))
	// a 2.1 file migrates regex paths: the version is part of the input
	churn := string(generateChurnJSON(100, 0))
	sameAsFullParse(t, "format version", []byte(churn), []byte(strings.Replace(churn, `"_format_version":"3.0"`, `"_format_version":"2.1"`, 1)))
	sameAsFullParse(t, "consumer custom_id", []byte("_format_version: \"3.0\"\nconsumers:\n- username: a\n  custom_id: x\n- username: b\n"),
		[]byte("_format_version: \"3.0\"\nconsumers:\n- username: a\n  custom_id: x\n- username: b\n  custom_id: y\n"))
}

// TestMemoUniqueAcrossReuse: a reused consumer's custom_id still takes
// part in the uniqueness check.
func TestMemoUniqueAcrossReuse(t *testing.T) {
	forgetMemo()
	prev := parseOver(t, []byte("_format_version: \"3.0\"\nconsumers:\n- username: a\n  custom_id: x\n- username: b\n"), nil, false)
	opts := testOpts()
	opts.Previous = prev
	_, err := Parse([]byte("_format_version: \"3.0\"\nconsumers:\n- username: a\n  custom_id: x\n- username: b\n  custom_id: x\n"), opts)
	if err == nil || !strings.Contains(err.Error(), "custom_id set to 'x' already declared") {
		t.Fatalf("duplicate custom_id over a reused consumer: error %v; want a uniqueness violation", err)
	}
}

// TestMemoGeneratedKey: a credential whose key is generated is not taken
// from the memo (its key is drawn again, as without it).
func TestMemoGeneratedKey(t *testing.T) {
	forgetMemo()
	src := []byte("_format_version: \"3.0\"\nconsumers:\n- username: a\n  keyauth_credentials:\n  - tags: [t]\n")
	prev := parseOver(t, src, nil, false)
	next := parseOver(t, src, prev, true)
	if len(next.KeyAuthCredentials) != 1 || next.KeyAuthCredentials[0] == prev.KeyAuthCredentials[0] {
		t.Fatal("a credential with a generated key was taken from the previous config")
	}
	if next.Consumers[0] != prev.Consumers[0] {
		t.Error("the unchanged consumer was not taken from the previous config")
	}
}

// TestMemoSavesWork: reparsing a config over its own result allocates far
// less with the memo than without.
func TestMemoSavesWork(t *testing.T) {
	data := generateChurnJSON(200, 1)
	forgetMemo()
	opts := testOpts()
	reparse := func(useMemo bool) func() {
		return func() {
			if !useMemo {
				forgetMemo()
			}
			cfg, err := Parse(data, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.Previous = cfg // the memo describes cfg now
		}
	}
	reparse(true)()
	with := testing.AllocsPerRun(3, reparse(true))
	without := testing.AllocsPerRun(3, reparse(false))
	t.Logf("allocations per parse: %v with the memo, %v without", with, without)
	if with*2 > without {
		t.Errorf("allocations with the memo %v; want under half of the %v without", with, without)
	}
}
