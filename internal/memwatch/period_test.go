package memwatch

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func secs(s ...float64) []time.Time {
	out := make([]time.Time, len(s))
	for i, v := range s {
		out[i] = t0.Add(time.Duration(v * float64(time.Second)))
	}
	return out
}

func reloadAt(at float64, entities int) Event {
	return Event{Time: t0.Add(time.Duration(at * float64(time.Second))), Kind: KindReload,
		Detail: "config reload", Attrs: map[string]any{"entities": entities, "build_seconds": 0.5}}
}

func TestFindPeriod(t *testing.T) {
	// Reloads every 60 s, each followed 0.8 s later by a spike; evictions
	// at unrelated times; plus one reload that caused no spike.
	var reloads []Event
	var spikes []time.Time
	entities := []int{9800, 10100, 10000, 9900, 10200}
	for i, n := range entities {
		at := 30 + 60*float64(i)
		reloads = append(reloads, reloadAt(at, n))
		spikes = append(spikes, secs(at+0.8)...)
	}
	noise := []Event{
		{Time: t0.Add(47 * time.Second), Kind: KindEviction},
		{Time: t0.Add(199 * time.Second), Kind: KindEviction},
		{Time: t0.Add(5 * time.Second), Kind: KindGC},
	}
	events := append(append([]Event{}, noise...), reloads...)

	tests := []struct {
		name       string
		spikes     []time.Time
		events     []Event
		wantFound  bool
		wantEvery  float64 // seconds, within 5%
		wantCount  int
		wantCause  string
		wantSumary string
	}{
		{"every 60 s after reloads", spikes, events, true, 60, 5, KindReload,
			"every 60 s, each after a config reload of about 10k entities"},
		{"jittered within tolerance", secs(0, 57, 121, 178, 240), nil, true, 60, 5, "", "every 60 s"},
		{"hourly", secs(0, 3600, 7230, 10790), nil, true, 3597, 4, "", "every 60 min"},
		{"an extra spike between", secs(0, 60, 95, 120, 180, 240), nil, true, 60, 5, "", "every 60 s"},
		{"two spikes are not a period", secs(0, 60), nil, false, 0, 0, "", "no recurring spikes"},
		{"irregular spikes", secs(0, 13, 50, 71, 140, 152, 230, 301, 333, 420), events, false, 0, 0, "", "no recurring spikes"},
		{"more irregular spikes", secs(0, 3, 14, 19, 42, 50, 52, 69, 100, 106), nil, false, 0, 0, "", "no recurring spikes"},
		{"no spikes", nil, events, false, 0, 0, "", "no recurring spikes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := FindPeriod(tt.spikes, tt.events, 0.10)
			if p.Found != tt.wantFound || p.Count != tt.wantCount || p.Cause != tt.wantCause || p.Summary != tt.wantSumary {
				t.Fatalf("FindPeriod = found %v count %d cause %q summary %q; want %v %d %q %q",
					p.Found, p.Count, p.Cause, p.Summary, tt.wantFound, tt.wantCount, tt.wantCause, tt.wantSumary)
			}
			if tt.wantFound && math.Abs(p.Every-tt.wantEvery) > tt.wantEvery*0.05 {
				t.Errorf("every = %v s; want about %v", p.Every, tt.wantEvery)
			}
		})
	}

	// The lag from reload to spike is reported.
	p := FindPeriod(spikes, events, 0.10)
	if math.Abs(p.Lag-0.8) > 0.01 || p.CauseOf != 5 {
		t.Errorf("lag %v s, cause of %d; want 0.8 s, 5", p.Lag, p.CauseOf)
	}

	// Most but not all spikes after a reload.
	p = FindPeriod(spikes, append(append([]Event{}, noise...), reloads[:4]...), 0.10)
	if want := "every 60 s, 4 of 5 after a config reload of about 10k entities"; p.Summary != want {
		t.Errorf("summary = %q; want %q", p.Summary, want)
	}
}

func TestFmtCountAndPeriod(t *testing.T) {
	agos := map[float64]string{0.8: "0.8 s", 0.03: "30 ms", 12: "12.0 s"}
	for sec, want := range agos {
		if got := fmtAgo(sec); got != want {
			t.Errorf("fmtAgo(%v) = %q; want %q", sec, got, want)
		}
	}
	counts := map[float64]string{9000: "9k", 9500: "9.5k", 10240: "10k", 1500: "1.5k", 640: "640", 123456: "123k"}
	for n, want := range counts {
		if got := fmtCount(n); got != want {
			t.Errorf("fmtCount(%v) = %q; want %q", n, got, want)
		}
	}
	periods := map[time.Duration]string{60 * time.Second: "60 s", 15 * time.Minute: "15 min", 150 * time.Minute: "2.5 h", 1500 * time.Millisecond: "1.5 s", 20 * time.Millisecond: "20 ms"}
	for d, want := range periods {
		if got := fmtPeriod(d); got != want {
			t.Errorf("fmtPeriod(%v) = %q; want %q", d, got, want)
		}
	}
}

// Random spikes rarely line up: with uniformly random spike times, a period
// is found for few of many seeds, while the same spikes plus a regular
// series that outnumbers them always are.
func TestFindPeriodRandom(t *testing.T) {
	found, foundRegular := 0, 0
	const seeds = 50
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 42))
		var ts []time.Time
		for range 8 {
			ts = append(ts, t0.Add(time.Duration(r.Int64N(int64(3600*time.Second)))))
		}
		if FindPeriod(ts, nil, 0.10).Found {
			found++
		}
		for k := range 9 {
			ts = append(ts, t0.Add(time.Duration(k)*400*time.Second+time.Duration(r.Int64N(int64(20*time.Second)))))
		}
		if p := FindPeriod(ts, nil, 0.10); p.Found && math.Abs(p.Every-400) < 20 {
			foundRegular++
		}
	}
	t.Logf("period found in %d of %d random timelines", found, seeds)
	if found > seeds/10 {
		t.Errorf("period found in %d of %d random timelines; want at most %d", found, seeds, seeds/10)
	}
	if foundRegular != seeds {
		t.Errorf("400 s period found in %d of %d timelines; want all", foundRegular, seeds)
	}
}

// The whole pipeline: a watcher fed a timeline where every 60 s a reload is
// followed by a jump in memory finds the period and its cause.
func TestWatcherFindsRecurringSpikes(t *testing.T) {
	w, c := synthetic(Options{Samples: 600})
	for k := range 5 {
		for range 56 {
			feed(w, c, 100*mib, 150*mib)
		}
		c.t = c.t.Add(-800 * time.Millisecond)
		w.Reload(9900+100*k, 300*time.Millisecond)
		c.t = c.t.Add(800 * time.Millisecond)
		for range 4 {
			feed(w, c, 180*mib, 230*mib)
		}
	}
	feed(w, c, 100*mib, 150*mib)
	tl := w.Timeline(0)
	if len(tl.Spikes) != 5 {
		t.Fatalf("spikes = %d; want 5", len(tl.Spikes))
	}
	want := "every 60 s, each after a config reload of about 10k entities"
	if !tl.Period.Found || tl.Period.Summary != want || tl.Period.Count != 5 {
		t.Errorf("period = %+v; want %q over 5 spikes", tl.Period, want)
	}
	if math.Abs(tl.Period.Lag-0.8) > 0.01 {
		t.Errorf("lag = %v s; want 0.8", tl.Period.Lag)
	}
}

func BenchmarkFindPeriod(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var ts []time.Time
	for range 256 {
		ts = append(ts, t0.Add(time.Duration(r.Int64N(int64(24*time.Hour)))))
	}
	b.ReportAllocs()
	for b.Loop() {
		FindPeriod(ts, nil, 0.10)
	}
}
