// Package plot draws line charts into PNG images with the standard library
// only: stacked panels sharing one x axis, one polyline per series, vertical
// marks (such as the moments of a config change), a legend and axis labels
// in a built-in 3x5 pixel font.
package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
)

// Series is one line: points (X[i], Y[i]); NaN values break the line.
type Series struct {
	Name  string
	Color color.RGBA
	X, Y  []float64
}

// Panel is one chart area with its own y axis.
type Panel struct {
	Title  string
	Series []Series
	// YMin and YMax fix the y range; when both are zero it spans the data
	// (from zero when the data are non-negative).
	YMin, YMax float64
}

// Chart is the whole image: panels stacked top to bottom over one x range.
type Chart struct {
	Width, Height int
	Panels        []Panel
	XLabel        string
	// Marks are x positions drawn as vertical lines across every panel.
	Marks []float64
	// Spans are x ranges shaded across every panel (drawn under the lines).
	Spans [][2]float64
	// XMin and XMax fix the x range; when both are zero it spans the data.
	XMin, XMax float64
}

// Colors is a palette of distinguishable line colours.
var Colors = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
}

var (
	background = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink        = color.RGBA{0x20, 0x20, 0x20, 0xff}
	grid       = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	markColor  = color.RGBA{0xff, 0xb0, 0x40, 0xff}
	spanColor  = color.RGBA{0xff, 0xf0, 0xd8, 0xff}
)

// Background is the colour of every pixel nothing is drawn on.
func Background() color.RGBA { return background }

const (
	scale   = 2 // font pixels per glyph pixel
	marginL = 70
	marginR = 20
	marginT = 10
	marginB = 44
	gap     = 40 // between panels, room for the next title
)

// Image renders the chart.
func (c Chart) Image() *image.RGBA {
	w, h := max(c.Width, 200), max(c.Height, 150)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	x0, x1 := c.xRange()
	n := max(len(c.Panels), 1)
	ph := (h - marginT - marginB - gap*n) / n
	for pi, p := range c.Panels {
		top := marginT + gap + pi*(ph+gap)
		area := image.Rect(marginL, top, w-marginR, top+ph)
		drawPanel(img, area, p, x0, x1, c.Marks, c.Spans)
		text(img, marginL, top-gap+12, p.Title, ink)
	}
	// x axis ticks under the last panel
	bottom := marginT + gap + n*(ph+gap) - gap
	for _, t := range ticks(x0, x1, 8) {
		x := marginL + int(math.Round((t-x0)/(x1-x0)*float64(w-marginL-marginR)))
		vline(img, x, bottom, bottom+4, ink)
		label := format(t)
		text(img, x-textWidth(label)/2, bottom+8, label, ink)
	}
	if c.XLabel != "" {
		text(img, (w-textWidth(c.XLabel))/2, h-14, c.XLabel, ink)
	}
	return img
}

// PNG encodes the chart.
func (c Chart) PNG(out io.Writer) error { return png.Encode(out, c.Image()) }

func (c Chart) xRange() (float64, float64) {
	if c.XMin != 0 || c.XMax != 0 {
		if c.XMax > c.XMin {
			return c.XMin, c.XMax
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range c.Panels {
		for _, s := range p.Series {
			for _, x := range s.X {
				if !math.IsNaN(x) {
					lo, hi = math.Min(lo, x), math.Max(hi, x)
				}
			}
		}
	}
	if math.IsInf(lo, 0) {
		return 0, 1
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

func yRange(p Panel) (float64, float64) {
	if p.YMax > p.YMin {
		return p.YMin, p.YMax
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
		}
	}
	if math.IsInf(lo, 0) {
		return 0, 1
	}
	if lo >= 0 {
		lo = 0
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi + (hi-lo)*0.15
}

func drawPanel(img *image.RGBA, a image.Rectangle, p Panel, x0, x1 float64, marks []float64, spans [][2]float64) {
	y0, y1 := yRange(p)
	px := func(x float64) float64 { return float64(a.Min.X) + (x-x0)/(x1-x0)*float64(a.Dx()-1) }
	py := func(y float64) float64 { return float64(a.Max.Y-1) - (y-y0)/(y1-y0)*float64(a.Dy()-1) }
	for _, sp := range spans {
		lo, hi := max(sp[0], x0), min(sp[1], x1)
		for x := int(math.Round(px(lo))); x <= int(math.Round(px(hi))); x++ {
			vline(img, x, a.Min.Y, a.Max.Y-1, spanColor)
		}
	}
	for _, t := range ticks(y0, y1, 5) {
		y := int(math.Round(py(t)))
		hline(img, a.Min.X, a.Max.X, y, grid)
		label := format(t)
		text(img, a.Min.X-6-textWidth(label), y-5*scale/2, label, ink)
	}
	for _, m := range marks {
		if m >= x0 && m <= x1 {
			vline(img, int(math.Round(px(m))), a.Min.Y, a.Max.Y, markColor)
		}
	}
	hline(img, a.Min.X, a.Max.X, a.Max.Y, ink)
	vline(img, a.Min.X-1, a.Min.Y, a.Max.Y, ink)
	clip := a
	for _, s := range p.Series {
		var have bool
		var lx, ly float64
		for i := range min(len(s.X), len(s.Y)) {
			if math.IsNaN(s.X[i]) || math.IsNaN(s.Y[i]) {
				have = false
				continue
			}
			x, y := px(s.X[i]), py(s.Y[i])
			if have {
				line(img, clip, lx, ly, x, y, s.Color)
			} else {
				line(img, clip, x, y, x, y, s.Color)
			}
			lx, ly, have = x, y, true
		}
	}
	// legend, top right
	lx := a.Max.X - 8
	for i := len(p.Series) - 1; i >= 0; i-- {
		s := p.Series[i]
		lx -= textWidth(s.Name) + 24
		for d := range 3 {
			hline(img, lx, lx+14, a.Min.Y+10+d, s.Color)
		}
		text(img, lx+18, a.Min.Y+6, s.Name, ink)
	}
}

// line draws a 2-pixel-wide segment clipped to r.
func line(img *image.RGBA, r image.Rectangle, x0, y0, x1, y1 float64, c color.RGBA) {
	steps := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= steps; i++ {
		t := float64(i) / float64(steps)
		x := int(math.Round(x0 + (x1-x0)*t))
		y := int(math.Round(y0 + (y1-y0)*t))
		for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}} {
			if p := image.Pt(x+d[0], y+d[1]); p.In(r) {
				img.SetRGBA(p.X, p.Y, c)
			}
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// ticks returns about n round values spanning [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	if hi <= lo || n < 1 {
		return nil
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag*float64(n) >= (hi-lo)*0.75 {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

// format prints a tick value briefly.
func format(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e9 {
		return fmt.Sprintf("%d", int64(v))
	}
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// textWidth is the width in pixels of s in the built-in font.
func textWidth(s string) int { return len([]rune(s)) * 4 * scale }

// text draws s with its top-left corner at (x, y); characters missing from
// the font are drawn as blanks, lower case as upper case.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if ok {
			for row, bits := range g {
				for col, b := range bits {
					if b == '#' {
						for dy := range scale {
							for dx := range scale {
								p := image.Pt(x+col*scale+dx, y+row*scale+dy)
								if p.In(img.Rect) {
									img.SetRGBA(p.X, p.Y, c)
								}
							}
						}
					}
				}
			}
		}
		x += 4 * scale
	}
}

// glyphs is a 3x5 pixel font.
var glyphs = map[rune][5]string{
	'0': {"###", "#.#", "#.#", "#.#", "###"}, '1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"###", "..#", "###", "#..", "###"}, '3': {"###", "..#", ".##", "..#", "###"},
	'4': {"#.#", "#.#", "###", "..#", "..#"}, '5': {"###", "#..", "###", "..#", "###"},
	'6': {"###", "#..", "###", "#.#", "###"}, '7': {"###", "..#", ".#.", ".#.", ".#."},
	'8': {"###", "#.#", "###", "#.#", "###"}, '9': {"###", "#.#", "###", "..#", "###"},
	'A': {".#.", "#.#", "###", "#.#", "#.#"}, 'B': {"##.", "#.#", "##.", "#.#", "##."},
	'C': {".##", "#..", "#..", "#..", ".##"}, 'D': {"##.", "#.#", "#.#", "#.#", "##."},
	'E': {"###", "#..", "##.", "#..", "###"}, 'F': {"###", "#..", "##.", "#..", "#.."},
	'G': {".##", "#..", "#.#", "#.#", ".##"}, 'H': {"#.#", "#.#", "###", "#.#", "#.#"},
	'I': {"###", ".#.", ".#.", ".#.", "###"}, 'J': {"..#", "..#", "..#", "#.#", ".#."},
	'K': {"#.#", "#.#", "##.", "#.#", "#.#"}, 'L': {"#..", "#..", "#..", "#..", "###"},
	'M': {"#.#", "###", "###", "#.#", "#.#"}, 'N': {"##.", "#.#", "#.#", "#.#", "#.#"},
	'O': {".#.", "#.#", "#.#", "#.#", ".#."}, 'P': {"##.", "#.#", "##.", "#..", "#.."},
	'Q': {".#.", "#.#", "#.#", "##.", ".##"}, 'R': {"##.", "#.#", "##.", "#.#", "#.#"},
	'S': {".##", "#..", ".#.", "..#", "##."}, 'T': {"###", ".#.", ".#.", ".#.", ".#."},
	'U': {"#.#", "#.#", "#.#", "#.#", "###"}, 'V': {"#.#", "#.#", "#.#", "#.#", ".#."},
	'W': {"#.#", "#.#", "###", "###", "#.#"}, 'X': {"#.#", "#.#", ".#.", "#.#", "#.#"},
	'Y': {"#.#", "#.#", ".#.", ".#.", ".#."}, 'Z': {"###", "..#", ".#.", "#..", "###"},
	'.': {"...", "...", "...", "...", ".#."}, '-': {"...", "...", "###", "...", "..."},
	'/': {"..#", "..#", ".#.", "#..", "#.."}, ':': {"...", ".#.", "...", ".#.", "..."},
	'%': {"#.#", "..#", ".#.", "#..", "#.#"}, '(': {".#.", "#..", "#..", "#..", ".#."},
	')': {".#.", "..#", "..#", "..#", ".#."}, '=': {"...", "###", "...", "###", "..."},
	',': {"...", "...", "...", ".#.", "#.."}, '_': {"...", "...", "...", "...", "###"},
	'+': {"...", ".#.", "###", ".#.", "..."}, '|': {".#.", ".#.", ".#.", ".#.", ".#."},
}
