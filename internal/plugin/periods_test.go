package plugin

import (
	"testing"
	"time"
)

func TestPeriodStart(t *testing.T) {
	tm := time.Date(2026, 3, 15, 10, 42, 17, 500e6, time.UTC)
	want := []time.Time{
		tm.Truncate(time.Second), time.Date(2026, 3, 15, 10, 42, 0, 0, time.UTC), time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i, w := range want {
		if got := PeriodStart(i, tm); got != w.Unix() {
			t.Errorf("%s: start %v; want %v", PeriodNames[i], time.Unix(got, 0).UTC(), w)
		}
	}
}
