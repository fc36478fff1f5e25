package metrics

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// WriteText writes every metric in the Prometheus text format 0.0.4,
// metrics in registration order, series sorted by label values.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	vecs := make([]*vec, 0, len(r.order))
	for _, n := range r.order {
		vecs = append(vecs, r.vecs[n])
	}
	r.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, v := range vecs {
		v.write(bw)
	}
	return bw.Flush()
}

func (v *vec) write(w *bufio.Writer) {
	idx := *v.index.Load()
	all := make([]*series, 0, len(idx))
	for _, l := range idx {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return
	}
	slices.SortFunc(all, func(a, b *series) int { return slices.Compare(a.values, b.values) })
	if v.help != "" {
		w.WriteString("# HELP " + v.name + " ")
		w.WriteString(escapeHelp(v.help))
		w.WriteByte('\n')
	}
	w.WriteString("# TYPE " + v.name + " " + v.kind.String() + "\n")
	for _, s := range all {
		switch v.kind {
		case kindCounter, kindGauge:
			w.WriteString(v.name)
			v.writeLabels(w, s, "", 0)
			w.WriteByte(' ')
			w.WriteString(formatFloat(math.Float64frombits(s.bits.Load())))
			w.WriteByte('\n')
		case kindHistogram:
			// Read count first: buckets are cumulative and must not exceed it
			// when observations race with the scrape.
			var cum uint64
			for i, b := range v.buckets {
				cum += s.counts[i].Load()
				w.WriteString(v.name + "_bucket")
				v.writeLabels(w, s, formatFloat(b), 1)
				w.WriteString(" " + strconv.FormatUint(cum, 10) + "\n")
			}
			n := s.count.Load()
			if n < cum {
				n = cum
			}
			w.WriteString(v.name + "_bucket")
			v.writeLabels(w, s, "+Inf", 1)
			w.WriteString(" " + strconv.FormatUint(n, 10) + "\n")
			w.WriteString(v.name + "_sum")
			v.writeLabels(w, s, "", 0)
			w.WriteString(" " + formatFloat(math.Float64frombits(s.bits.Load())) + "\n")
			w.WriteString(v.name + "_count")
			v.writeLabels(w, s, "", 0)
			w.WriteString(" " + strconv.FormatUint(n, 10) + "\n")
		}
	}
}

// writeLabels writes {a="x",b="y"} plus le="<le>" when withLE is 1.
func (v *vec) writeLabels(w *bufio.Writer, s *series, le string, withLE int) {
	if len(v.labels)+withLE == 0 {
		return
	}
	w.WriteByte('{')
	for i, l := range v.labels {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(l + `="`)
		writeEscaped(w, s.values[i])
		w.WriteByte('"')
	}
	if withLE == 1 {
		if len(v.labels) > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`le="` + le + `"`)
	}
	w.WriteByte('}')
}

// writeEscaped escapes a label value: backslash, double quote, newline.
func writeEscaped(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			w.WriteString(`\\`)
		case '"':
			w.WriteString(`\"`)
		case '\n':
			w.WriteString(`\n`)
		default:
			w.WriteByte(c)
		}
	}
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
