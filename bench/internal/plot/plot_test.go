package plot

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

func TestPNG(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4, 5}
	c := Chart{Width: 640, Height: 400, XLabel: "seconds", Marks: []float64{2.5}, Spans: [][2]float64{{3, 4}},
		Panels: []Panel{
			{Title: "RSS MiB", Series: []Series{{Name: "node 1", Color: Colors[0], X: xs, Y: []float64{10, 11, 10, 12, 10, 11}}}},
			{Title: "p99 ms", Series: []Series{{Name: "node 1", Color: Colors[1], X: xs, Y: []float64{1, 2, math.NaN(), 2, 1, 1}}}},
		}}
	var buf bytes.Buffer
	if err := c.PNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decoding the PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 400 {
		t.Fatalf("got %dx%d; want 640x400", b.Dx(), b.Dy())
	}
	counts := map[[3]uint32]int{}
	for y := range 400 {
		for x := range 640 {
			r, g, b, _ := img.At(x, y).RGBA()
			counts[[3]uint32{r >> 8, g >> 8, b >> 8}]++
		}
	}
	bg := Background()
	if counts[[3]uint32{uint32(bg.R), uint32(bg.G), uint32(bg.B)}] == 640*400 {
		t.Fatal("every pixel is background")
	}
	for _, want := range []struct {
		name string
		c    [3]uint32
	}{{"series 1", rgb(Colors[0].R, Colors[0].G, Colors[0].B)}, {"series 2", rgb(Colors[1].R, Colors[1].G, Colors[1].B)}, {"mark", rgb(markColor.R, markColor.G, markColor.B)}, {"span", rgb(spanColor.R, spanColor.G, spanColor.B)}, {"text", rgb(ink.R, ink.G, ink.B)}} {
		if counts[want.c] < 20 {
			t.Errorf("%s: %d pixels of its colour; want a drawn line", want.name, counts[want.c])
		}
	}
}

func rgb(r, g, b uint8) [3]uint32 { return [3]uint32{uint32(r), uint32(g), uint32(b)} }

func TestLinePosition(t *testing.T) {
	// A flat series at the top of a fixed range is drawn near the top of
	// the panel, not the bottom.
	c := Chart{Width: 400, Height: 300, Panels: []Panel{{YMin: 0, YMax: 10,
		Series: []Series{{Name: "a", Color: Colors[2], X: []float64{0, 10}, Y: []float64{10, 10}}}}}}
	img := c.Image()
	top, bottom := 0, 0
	for y := range 300 {
		for x := marginL + 5; x < 300; x++ {
			if img.RGBAAt(x, y) == Colors[2] {
				if y < 150 {
					top++
				} else {
					bottom++
				}
			}
		}
	}
	if top == 0 || bottom != 0 {
		t.Errorf("line pixels: %d in the top half, %d in the bottom; want all at the top", top, bottom)
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		n      int
		want   []float64
	}{
		{0, 10, 5, []float64{0, 2, 4, 6, 8, 10}},
		{0, 1, 4, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{3, 97, 4, []float64{20, 40, 60, 80}},
		{5, 5, 4, nil},
	}
	for _, tt := range tests {
		got := ticks(tt.lo, tt.hi, tt.n)
		if len(got) != len(tt.want) {
			t.Errorf("ticks(%v, %v, %d) = %v; want %v", tt.lo, tt.hi, tt.n, got, tt.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-9 {
				t.Errorf("ticks(%v, %v, %d) = %v; want %v", tt.lo, tt.hi, tt.n, got, tt.want)
				break
			}
		}
	}
}
