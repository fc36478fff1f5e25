package memwatch

import (
	"errors"
	"testing"
)

// failAfter accepts n bytes, then fails every write with err.
type failAfter struct {
	n     int
	err   error
	after int // writes after the first failure
	fail  bool
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.fail {
		f.after++
	}
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	k := f.n
	f.n = 0
	f.fail = true
	return k, f.err
}

func TestWriteMetricsError(t *testing.T) {
	w := New(Options{MaxGauges: 200})
	for i := 0; i < 200; i++ { // enough gauges to overflow bufio's 4 KiB buffer
		if err := w.RegisterGauge("component_with_a_long_name_"+string(rune('a'+i%26))+string(rune('a'+i/26)), func() int64 { return 1 }); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{0, 100, 5000} {
		errBoom := errors.New("boom")
		fw := &failAfter{n: n, err: errBoom}
		if err := w.WriteMetrics(fw); !errors.Is(err, errBoom) {
			t.Errorf("writer failing after %d bytes: got %v; want %v", n, err, errBoom)
		}
		if fw.after != 0 {
			t.Errorf("writer failing after %d bytes: %d writes after the failure; want 0", n, fw.after)
		}
	}
}
