package memwatch

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCgroupLimit(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		want   int64
		wantOK bool
	}{
		{"v2 limit", map[string]string{"sys/fs/cgroup/memory.max": "268435456\n"}, 268435456, true},
		{"v2 unlimited", map[string]string{"sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"v2 nested cgroup", map[string]string{
			"proc/self/cgroup":                          "0::/kubepods/pod1/c1\n",
			"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "536870912\n",
			"sys/fs/cgroup/memory.max":                  "max\n",
		}, 536870912, true},
		{"v1 limit", map[string]string{
			"proc/self/cgroup":                           "12:memory:/\n0::/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "2147483648\n",
		}, 2147483648, true},
		{"v1 unlimited", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, false},
		{"none", map[string]string{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tt.files {
				writeFile(t, filepath.Join(root, p), c)
			}
			got, ok, err := CgroupLimit(root)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("CgroupLimit = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestApplyLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })

	root := t.TempDir()
	writeFile(t, filepath.Join(root, "sys/fs/cgroup/memory.max"), "268435456")
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	d, err := ApplyLimit(root, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	limit := float64(268435456)
	want := int64(limit * 0.9)
	if d.GoMemLimit != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("GoMemLimit = %d (runtime %d); want %d", d.GoMemLimit, debug.SetMemoryLimit(-1), want)
	}

	if _, err := ApplyLimit(root, 1.5); err == nil {
		t.Error("ratio 1.5 accepted; want an error")
	}

	// A user's GOMEMLIMIT wins.
	debug.SetMemoryLimit(123 << 20)
	t.Setenv("GOMEMLIMIT", "123MiB")
	d, err = ApplyLimit(root, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if d.GoMemLimit != 123<<20 {
		t.Errorf("with GOMEMLIMIT set, limit = %d; want %d", d.GoMemLimit, 123<<20)
	}
}
