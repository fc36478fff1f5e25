package main

import (
	"fmt"
	"image/color"
	"math"

	"sluice/bench/internal/plot"
)

// chart draws memory per replica and p99 per second per replica over time,
// with the bulk changes as vertical marks.
func chart(title string, mem [][]memSample, secs [][]Second, ctl []Second, changes []Change, heap bool, warmup, after float64) plot.Chart {
	rss := plot.Panel{Title: "RSS MiB per replica - " + title}
	hp := plot.Panel{Title: "Go heap in use MiB per replica"}
	lat := plot.Panel{Title: "p99 latency ms per second per replica (orange: change starts, shaded: change and the window after it)"}
	for r := range mem {
		name := fmt.Sprintf("node %d", r+1)
		col := plot.Colors[r%len(plot.Colors)]
		s := plot.Series{Name: name, Color: col}
		h := plot.Series{Name: name, Color: col}
		for _, m := range mem[r] {
			s.X, s.Y = append(s.X, m.T), append(s.Y, float64(m.RSS)/mib)
			v := math.NaN()
			if m.Heap >= 0 {
				v = float64(m.Heap) / mib
			}
			h.X, h.Y = append(h.X, m.T), append(h.Y, v)
		}
		rss.Series = append(rss.Series, s)
		hp.Series = append(hp.Series, h)
	}
	for r := range secs {
		s := plot.Series{Name: fmt.Sprintf("node %d", r+1), Color: plot.Colors[r%len(plot.Colors)]}
		for _, x := range secs[r] {
			s.X, s.Y = append(s.X, x.T+0.5), append(s.Y, x.P99)
		}
		lat.Series = append(lat.Series, s)
	}
	if len(ctl) > 0 {
		s := plot.Series{Name: "upstream direct", Color: color.RGBA{0x90, 0x90, 0x90, 0xff}}
		for _, x := range ctl {
			s.X, s.Y = append(s.X, x.T+0.5), append(s.Y, x.P99)
		}
		lat.Series = append(lat.Series, s)
	}
	c := chart0(warmup)
	c.Panels = []plot.Panel{rss}
	if heap {
		c.Panels = append(c.Panels, hp)
	}
	c.Panels = append(c.Panels, lat)
	c.Height = 260 * len(c.Panels)
	for _, ch := range changes {
		c.Marks = append(c.Marks, ch.Start)
		c.Spans = append(c.Spans, [2]float64{ch.Start, ch.End + after})
	}
	return c
}

func chart0(warmup float64) plot.Chart {
	return plot.Chart{Width: 1200, XLabel: fmt.Sprintf("seconds since the load started (warm-up: first %.0f s)", warmup)}
}
