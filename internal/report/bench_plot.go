package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

func benchSlug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	return b.String()
}

// BenchPercentileX maps percentile p (0..100) to the plot's x coordinate
// log10(1/(1-p/100)): 0% → 0, 90% → 1, 99% → 2, 99.9% → 3.
func BenchPercentileX(p float64) float64 {
	if p >= 100 {
		return math.Inf(1)
	}
	return -math.Log10(1 - p/100)
}

// BenchPercentileLabel is the tick label at x = n: "0%", "90%", "99%", "99.9%".
func BenchPercentileLabel(n int) string {
	switch {
	case n <= 0:
		return "0%"
	case n == 1:
		return "90%"
	case n == 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", n-2) + "%"
}

type benchPercentileTicks struct{}

// Ticks implements plot.Ticker: one labelled tick per nine.
func (benchPercentileTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for n := 0; n <= int(math.Ceil(max)) && n <= 9; n++ {
		t = append(t, plot.Tick{Value: float64(n), Label: BenchPercentileLabel(n)})
	}
	return t
}

// BenchLatencyLabel formats a latency of v µs for a tick: "500 ns",
// "2 µs", "100 µs", "1 ms", "100 ms", "2 s".
func BenchLatencyLabel(v float64) string {
	f := func(x float64, unit string) string { return strconv.FormatFloat(x, 'g', 3, 64) + " " + unit }
	switch {
	case v < 1:
		return f(v*1000, "ns")
	case v < 1000:
		return f(v, "µs")
	case v < 1e6:
		return f(v/1000, "ms")
	}
	return f(v/1e6, "s")
}

// benchLatencyTicks marks a log-scale latency axis in µs with durations:
// every decade labelled, and 2× and 5× labelled too when the range spans
// two decades or less, so that a narrow plot still has labels.
type benchLatencyTicks struct{}

// Ticks implements plot.Ticker.
func (benchLatencyTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0) || !(max >= min) {
		return nil
	}
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	fine := hi-lo <= 2
	var t []plot.Tick
	for e := lo; e <= hi; e++ {
		d := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * d
			if v < min*0.999 || v > max*1.001 {
				continue
			}
			label := ""
			if m == 1 || (fine && (m == 2 || m == 5)) {
				label = BenchLatencyLabel(v)
			}
			t = append(t, plot.Tick{Value: v, Label: label})
		}
	}
	return t
}

// BenchPercentileCurve returns (x, latency µs) points of h from 0% to the
// highest percentile its count resolves.
func BenchPercentileCurve(h *BenchHistogram) plotter.XYs {
	n := h.H.TotalCount()
	maxX := math.Log10(float64(max(n, 1)))
	var pts plotter.XYs
	for x := 0.0; x <= maxX+1e-9; x += 0.02 {
		p := 100 * (1 - math.Pow(10, -x))
		v := float64(h.H.ValueAtQuantile(p)) / 1e3
		pts = append(pts, plotter.XY{X: x, Y: math.Max(v, 0.001)})
	}
	return pts
}

// benchFixedColours are the colours of the implementations klbench
// names itself, the same in every report.
var benchFixedColours = map[string]color.Color{
	"ref":          color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	"ref-adapter":  color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}, // cyan
	"null-adapter": color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // grey
}

// benchPalette colours the other implementations, in the order of the
// run's --impl and --native flags.
var benchPalette = []color.Color{
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
	color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, // pink
	color.RGBA{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, // olive
}

// benchLimitColour draws the raw limits, with a dash pattern each.
var benchLimitColour = color.RGBA{A: 0xff}

var benchLimitDashes = [][]vg.Length{
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)},
}

// BenchColours gives each implementation of impls one colour, used in
// every plot of a report: ref, ref-adapter and null-adapter have fixed
// colours, the others take the palette in order.
func BenchColours(impls []string) map[string]color.Color {
	m := map[string]color.Color{}
	i := 0
	for _, name := range impls {
		if _, ok := m[name]; ok {
			continue
		}
		if c, ok := benchFixedColours[name]; ok {
			m[name] = c
			continue
		}
		m[name] = benchPalette[i%len(benchPalette)]
		i++
	}
	for name, c := range benchFixedColours {
		if _, ok := m[name]; !ok {
			m[name] = c
		}
	}
	return m
}

// Plot geometry: the data area and, below it, the legend (one line per
// entry), so that no curve is hidden behind it.
const (
	benchPlotWidth  = 7 * vg.Inch
	benchPlotHeight = 4.2 * vg.Inch
	benchPlotDPI    = 110
)

// WriteBenchPlot draws pl into dir as pl.Name+".svg" and pl.Name+".png"
// and returns the file names: latency by percentile, log-scale percentile
// axis and log-scale latency axis, one curve per implementation in its
// colour from colours, and the raw limits in black, dashed. The legend is
// below the axes.
func WriteBenchPlot(dir string, pl BenchPlot, hists map[string]*BenchHistogram, colours map[string]color.Color) ([]string, error) {
	p := plot.New()
	p.Title.Text = pl.Title
	if pl.Note != "" && len(pl.Limits) == 0 {
		p.Title.Text += "\n(" + pl.Note + ")"
	}
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (log scale)"
	p.X.Tick.Marker = benchPercentileTicks{}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = benchLatencyTicks{}
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.ThumbnailWidth = vg.Points(28)
	leg.Padding = vg.Points(3)
	entries := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	add := func(name string, limit bool, dash int) error {
		h := hists[name]
		if h == nil || h.H == nil || h.H.TotalCount() == 0 {
			return nil
		}
		pts := BenchPercentileCurve(h)
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.Y), math.Max(hi, pt.Y)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		label := fmt.Sprintf("%s (n=%d)", h.Impl, h.Count)
		l.Width = vg.Points(1.6)
		if limit {
			l.Color = benchLimitColour
			l.Dashes = benchLimitDashes[dash%len(benchLimitDashes)]
			l.Width = vg.Points(1.2)
			label = fmt.Sprintf("%s (n=%d)", h.Title, h.Count)
		} else if c, ok := colours[h.Impl]; ok {
			l.Color = c
		} else {
			l.Color = benchPalette[len(colours)%len(benchPalette)]
		}
		p.Add(l)
		leg.Add(label, l)
		entries++
		return nil
	}
	for _, n := range pl.Series {
		if err := add(n, false, 0); err != nil {
			return nil, err
		}
	}
	for i, n := range pl.Limits {
		if err := add(n, true, i); err != nil {
			return nil, err
		}
	}
	if entries > 0 {
		// Whole decades at both ends, so that both are labelled.
		p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	}
	// As plot.Legend spaces its entries: the text's height above the
	// baseline and the padding, each; the last one's descent below.
	entryH := leg.TextStyle.Rectangle("Xgy").Max.Y
	legendH := vg.Length(entries)*(entryH+leg.Padding) + leg.TextStyle.FontExtents().Descent + vg.Points(8)
	h := benchPlotHeight + legendH
	render := func(c vg.CanvasSizer) {
		dc := draw.New(c)
		p.Draw(draw.Crop(dc, 0, 0, legendH, 0))
		legArea := draw.Crop(dc, vg.Points(12), 0, vg.Points(4), -(h - legendH))
		leg.Draw(legArea)
	}
	svg := vgsvg.New(benchPlotWidth, h)
	render(svg)
	png := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(benchPlotWidth, h), vgimg.UseDPI(benchPlotDPI))}
	render(png)
	var files []string
	for _, f := range []struct {
		ext string
		w   io.WriterTo
	}{{".svg", svg}, {".png", png}} {
		name := pl.Name + f.ext
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		_, err = f.w.WriteTo(out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
		files = append(files, name)
	}
	return files, nil
}
