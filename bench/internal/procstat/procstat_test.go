package procstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr bool
	}{
		{"plain", "1234 (sluice) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 75 0 0 20 0 8 0 100 0 0",
			Stat{PPID: 1, UTime: 250, STime: 75}, false},
		{"name with spaces and parens", "77 (nginx: worker (x) ) R 76 76 1 0 -1 0 1 0 0 0 9 1 0 0",
			Stat{PPID: 76, UTime: 9, STime: 1}, false},
		{"no paren", "77 nginx R 76", Stat{}, true},
		{"short", "77 (a) R 76 1 2", Stat{}, true},
		{"bad utime", "1 (a) S 0 1 1 0 -1 0 0 0 0 0 x 1 0 0", Stat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if got := (Stat{UTime: 250, STime: 50}).CPUSeconds(); got != 3 {
		t.Errorf("CPUSeconds() = %v; want 3", got)
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Memory
		wantErr bool
	}{
		{"normal", "Name:\tsluice\nVmPeak:\t 900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t5\n",
			Memory{HWMKiB: 51200, RSSKiB: 40960}, false},
		{"kernel thread", "Name:\tkthreadd\nState:\tS\n", Memory{}, true},
		{"bad unit", "VmHWM:\t1 MB\nVmRSS:\t1 kB\n", Memory{}, true},
		{"negative", "VmHWM:\t-1 kB\nVmRSS:\t1 kB\n", Memory{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("1234 (sluice) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 75 0 0")
	f.Add("1 ()) R 0 0 0 0 0 0 0 0 0 0 1 1")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStat([]byte(s))
		if err == nil && st.CPUSeconds() < 0 {
			t.Errorf("negative CPU seconds from %q", s)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add("VmHWM:\t 1 kB\nVmRSS:\t 2 kB\n")
	f.Add("VmHWM: x\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseStatus([]byte(s))
		if err == nil && (m.HWMKiB < 0 || m.RSSKiB < 0) {
			t.Errorf("negative size from %q: %+v", s, m)
		}
	})
}

// TestFakeTree checks the descendant walk on a made-up /proc.
func TestFakeTree(t *testing.T) {
	root := t.TempDir()
	procs := []struct{ pid, ppid, ut, st, hwm int }{
		{10, 1, 100, 50, 1000}, {11, 10, 200, 0, 2000}, {12, 11, 1, 1, 10}, {13, 1, 999, 999, 99999},
	}
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := strconv.Itoa(p.pid) + " (p) S " + strconv.Itoa(p.ppid) + " 0 0 0 -1 0 0 0 0 0 " + strconv.Itoa(p.ut) + " " + strconv.Itoa(p.st) + " 0 0"
		status := "VmHWM:\t" + strconv.Itoa(p.hwm) + " kB\nVmRSS:\t1 kB\n"
		os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644)
		os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644)
	}
	os.MkdirAll(filepath.Join(root, "self"), 0o755)
	u, err := FS{Root: root}.TreeUsage(10)
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{CPUSeconds: 3.52, HWMKiB: 3010, RSSKiB: 3}
	if u != want {
		t.Errorf("got %+v; want %+v", u, want)
	}
	if _, err := (FS{Root: root}).TreeUsage(99); err == nil {
		t.Error("TreeUsage of a missing pid succeeded; want an error")
	}
}

// TestLiveCPU burns CPU in a child shell and checks that its tree shows it.
func TestLiveCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("burns CPU for half a second")
	}
	cmd := exec.Command("sh", "-c", "sh -c 'while :; do :; done' & wait")
	if err := cmd.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	defer func() {
		if pids, err := Proc.Tree(cmd.Process.Pid); err == nil {
			for _, p := range pids[1:] {
				if pr, err := os.FindProcess(p); err == nil {
					pr.Kill()
				}
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// The busy loop is a grandchild: only the tree sum sees it. Poll, as
	// a loaded machine may give it little CPU.
	var u Usage
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if u, err = Proc.TreeUsage(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if u.CPUSeconds >= 0.1 {
			break
		}
	}
	if u.CPUSeconds < 0.1 || u.HWMKiB <= 0 {
		t.Errorf("got %+v; want at least 0.1 CPU seconds from the busy grandchild and a non-zero HWM", u)
	}
}

// TestResetPeak grows a child's RSS, lets it free the memory, and checks
// that after a reset its VmHWM is back near its current RSS.
func TestResetPeak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child")
	}
	if os.Getenv("PROCSTAT_CHILD") == "1" {
		// Outside the Go heap, so that unmapping returns it at once.
		b, err := syscall.Mmap(-1, 0, 64<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			os.Exit(3)
		}
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		syscall.Munmap(b)
		os.Stdout.Write([]byte("grown\n"))
		time.Sleep(30 * time.Second)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestResetPeak$")
	cmd.Env = append(os.Environ(), "PROCSTAT_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	before, err := Proc.Memory(pid)
	if err != nil {
		t.Fatal(err)
	}
	if before.HWMKiB < 60<<10 {
		t.Fatalf("child peak %d KiB; want at least 60 MiB after touching 64 MiB", before.HWMKiB)
	}
	if err := Proc.ResetPeak(pid); err != nil {
		t.Skip("cannot reset peak RSS here:", err)
	}
	after, err := Proc.Memory(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after.HWMKiB > after.RSSKiB+1024 || after.HWMKiB > before.HWMKiB-50<<10 {
		t.Errorf("VmHWM %d KiB before the reset, %d KiB after (VmRSS %d KiB); want it back at the current RSS, 64 MiB lower",
			before.HWMKiB, after.HWMKiB, after.RSSKiB)
	}
}
