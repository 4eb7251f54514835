package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

type benchPlotGroup struct {
	key, title string
	hists      []*BenchHistogram
}

// benchPlotGroups groups histograms of the same experiment and kind: one
// plot each, one line per implementation.
func benchPlotGroups(hs []*BenchHistogram) []benchPlotGroup {
	idx := map[string]int{}
	var out []benchPlotGroup
	for _, h := range hs {
		if h.H == nil || h.H.TotalCount() == 0 {
			continue
		}
		key := benchSlug(h.Experiment + "-" + h.Kind)
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, benchPlotGroup{key: key, title: h.Experiment + ": " + h.Kind + " latency by percentile"})
		}
		out[i].hists = append(out[i].hists, h)
	}
	return out
}

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

func (benchPercentileTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for n := 0; n <= int(math.Ceil(max)) && n <= 9; n++ {
		t = append(t, plot.Tick{Value: float64(n), Label: BenchPercentileLabel(n)})
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

var benchPalette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// WriteBenchPlot writes an SVG latency-by-percentile plot, one line per
// histogram, log-scale percentile x axis and log-scale latency y axis.
func WriteBenchPlot(path, title string, hs []*BenchHistogram) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (µs, log scale)"
	p.X.Tick.Marker = benchPercentileTicks{}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	hs = append([]*BenchHistogram(nil), hs...)
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].Impl < hs[j].Impl })
	for i, h := range hs {
		pts := BenchPercentileCurve(h)
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = benchPalette[i%len(benchPalette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", h.Impl, h.Count), l)
	}
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
