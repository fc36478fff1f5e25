package memwatch

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Period describes spikes recurring at a regular interval.
type Period struct {
	Found   bool      `json:"found"`
	Every   float64   `json:"every_seconds,omitempty"`
	Count   int       `json:"count,omitempty"` // spikes in the regular series
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"`
	Cause   string    `json:"cause,omitempty"`       // event kind preceding the spikes
	CauseOf int       `json:"cause_count,omitempty"` // how many of the Count spikes it preceded
	Lag     float64   `json:"lag_seconds,omitempty"` // median time from the event to the spike
	Detail  string    `json:"cause_detail,omitempty"`
	Summary string    `json:"summary"`
}

// Bounds on the work of FindPeriod: the newest maxPeriodSpikes spikes are
// examined, and two spikes are tried as at most maxSkip periods apart.
const (
	maxPeriodSpikes = 100
	maxSkip         = 4
)

// FindPeriod looks for spikes recurring at roughly equal intervals: at least
// three spike times t, t+p, t+2p... each within tol (a fraction, e.g. 0.10)
// of n*p from the first, and too regular to be random spikes lining up by
// chance (see better). When found, it names the event kind that precedes the
// spikes (within half a period), with the typical entity count for reloads.
// It is a pure function of its arguments.
func FindPeriod(spikes []time.Time, events []Event, tol float64) Period {
	ts := slices.Clone(spikes)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	if len(ts) > maxPeriodSpikes {
		ts = ts[len(ts)-maxPeriodSpikes:]
	}
	var best, buf []time.Time
	for i := range ts {
		for j := i + 1; j < len(ts); j++ {
			for k := 1; k <= min(j-i, maxSkip); k++ {
				// ts[i] and ts[j] may be k periods apart.
				p := ts[j].Sub(ts[i]) / time.Duration(k)
				if p <= 0 {
					continue
				}
				buf = chainFrom(buf[:0], ts, i, p, tol)
				if better(ts, buf, best, tol) {
					best = append(best[:0], buf...)
				}
			}
		}
	}
	if len(best) < 3 {
		return Period{Summary: "no recurring spikes"}
	}
	per := Period{Found: true, Count: len(best), First: best[0], Last: best[len(best)-1]}
	every := meanGap(best)
	per.Every = every.Seconds()
	per.Summary = "every " + fmtPeriod(every)

	// The event kind most often seen within half a period before a spike.
	type cand struct {
		n        int
		lags     []float64
		entities []float64
		detail   string
	}
	kinds := map[string]bool{}
	for _, e := range events {
		if e.Kind != KindSpike && e.Kind != KindGC {
			kinds[e.Kind] = true
		}
	}
	byKind := map[string]*cand{}
	for k := range kinds {
		for _, t := range best {
			e := nearestBefore(events, k, t, every/2)
			if e == nil {
				continue
			}
			c := byKind[k]
			if c == nil {
				c = &cand{detail: e.Detail}
				byKind[k] = c
			}
			c.n++
			c.lags = append(c.lags, t.Sub(e.Time).Seconds())
			if n, ok := toFloat(e.Attrs["entities"]); ok {
				c.entities = append(c.entities, n)
			}
		}
	}
	var kind string
	for k, c := range byKind {
		if kind == "" || c.n > byKind[kind].n || (c.n == byKind[kind].n && k < kind) {
			kind = k
		}
	}
	if kind != "" && float64(byKind[kind].n) >= float64(len(best))*2/3 {
		c := byKind[kind]
		per.Cause, per.CauseOf = kind, c.n
		per.Lag = medianF(c.lags)
		switch kind {
		case KindReload:
			per.Detail = "a config reload"
			if len(c.entities) > 0 {
				per.Detail += " of about " + fmtCount(medianF(c.entities)) + " entities"
			}
		case KindEviction:
			per.Detail = "a cache eviction"
		default:
			per.Detail = "a " + kind + " event"
			if c.detail != "" {
				per.Detail += " (" + c.detail + ")"
			}
		}
		if c.n == len(best) {
			per.Summary += ", each after " + per.Detail
		} else {
			per.Summary += fmt.Sprintf(", %d of %d after %s", c.n, len(best), per.Detail)
		}
	}
	return per
}

// better reports whether chain is a regular series longer than best (or as
// long with a shorter period). A series counts when random spikes would be
// unlikely to line up like it: with the other spikes spread evenly over the
// timeline, the chance that one falls within tol*p of a predicted time is q,
// and the chance of len-1 hits in a row, times the number of series tried,
// must stay under 1%.
func better(ts, chain, best []time.Time, tol float64) bool {
	if len(chain) < 3 {
		return false
	}
	span := ts[len(ts)-1].Sub(ts[0])
	p := meanGap(chain)
	q := 2 * tol * float64(p) * float64(len(ts)-len(chain)) / float64(span)
	if q >= 1 || math.Pow(q, float64(len(chain)-1))*float64(len(ts)*len(ts)) >= 0.01 {
		return false
	}
	return len(chain) > len(best) || (len(chain) == len(best) && p < meanGap(best))
}

// chainFrom appends to chain the spikes following ts[i]: the n-th next one is expected n*p
// after ts[i], within tol*p (anchored at the start, so errors do not add up).
func chainFrom(chain, ts []time.Time, i int, p time.Duration, tol float64) []time.Time {
	chain = append(chain, ts[i])
	slack := time.Duration(float64(p) * tol)
	for k := i + 1; k < len(ts); {
		want := ts[i].Add(p * time.Duration(len(chain)))
		bestK := -1
		var bestD time.Duration
		for ; k < len(ts) && !ts[k].After(want.Add(slack)); k++ {
			d := ts[k].Sub(want)
			if d < 0 {
				d = -d
			}
			if d <= slack && (bestK < 0 || d < bestD) {
				bestK, bestD = k, d
			}
		}
		if bestK < 0 {
			break
		}
		chain = append(chain, ts[bestK])
		k = bestK + 1
	}
	return chain
}

func meanGap(ts []time.Time) time.Duration {
	if len(ts) < 2 {
		return 0
	}
	return ts[len(ts)-1].Sub(ts[0]) / time.Duration(len(ts)-1)
}

func nearestBefore(events []Event, kind string, t time.Time, within time.Duration) *Event {
	var best *Event
	for k := range events {
		e := &events[k]
		if e.Kind != kind || e.Time.After(t) || t.Sub(e.Time) > within {
			continue
		}
		if best == nil || e.Time.After(best.Time) {
			best = e
		}
	}
	return best
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case int32:
		return float64(n), true
	}
	return 0, false
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fmtPeriod renders an interval for a sentence: "20 ms", "60 s", "15 min",
// "2.5 h".
func fmtPeriod(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < 2*time.Minute:
		return roughly(d.Seconds()) + " s"
	case d < 2*time.Hour:
		return roughly(d.Minutes()) + " min"
	default:
		return roughly(d.Hours()) + " h"
	}
}

// roughly keeps one decimal below 10 and none above.
func roughly(f float64) string {
	if f >= 10 {
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	}
	return trimFloat(f, 1)
}

// fmtAgo renders a number of seconds: "0.8 s", "12.0 s", "30 ms".
func fmtAgo(sec float64) string {
	if sec < 0.1 {
		return strconv.FormatFloat(math.Round(sec*1000), 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(sec, 'f', 1, 64) + " s"
}

// fmtCount renders an approximate count: 9000 -> "9k", 10240 -> "10k".
func fmtCount(n float64) string {
	switch {
	case n >= 10000:
		return strconv.FormatFloat(math.Round(n/1000), 'f', 0, 64) + "k"
	case n >= 1000:
		return trimFloat(math.Round(n/100)/10, 1) + "k"
	default:
		return strconv.FormatFloat(math.Round(n), 'f', 0, 64)
	}
}

func trimFloat(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
