package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteBenchReport writes report.json, report.md, one .hgrm per histogram,
// the latency-by-percentile SVG plots and bench.txt into dir, which must
// exist.
func WriteBenchReport(dir string, r *BenchReport) error {
	r.Plots = nil
	for _, h := range r.Histograms {
		h.File = h.Name + ".hgrm"
		var b bytes.Buffer
		if err := WriteBenchHgrm(&b, h); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, h.File), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	for _, g := range benchPlotGroups(r.Histograms) {
		name := "plot-" + g.key + ".svg"
		if err := WriteBenchPlot(filepath.Join(dir, name), g.title, g.hists); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		r.Plots = append(r.Plots, name)
	}
	var b bytes.Buffer
	if err := WriteBenchJSON(&b, r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b.Bytes(), 0o644); err != nil {
		return err
	}
	b.Reset()
	WriteBenchMarkdown(&b, r)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), b.Bytes(), 0o644); err != nil {
		return err
	}
	b.Reset()
	WriteBenchGoText(&b, r)
	return os.WriteFile(filepath.Join(dir, "bench.txt"), b.Bytes(), 0o644)
}

// WriteBenchJSON writes r as indented JSON. NaN (a figure that could not be
// measured) is written as null.
func WriteBenchJSON(w io.Writer, r *BenchReport) error {
	b, err := json.MarshalIndent(benchSanitize(r), "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// benchSanitize returns r in a form encoding/json accepts: NaN and Inf,
// which it refuses, are left out of histogram percentiles. (The table,
// figures and scale write them as null themselves; see MarshalJSON.) r
// itself is not changed.
func benchSanitize(r *BenchReport) *BenchReport {
	c := *r
	c.Histograms = make([]*BenchHistogram, len(r.Histograms))
	for i, h := range r.Histograms {
		hc := *h
		if h.Percentile != nil {
			hc.Percentile = make(map[string]float64, len(h.Percentile))
			for k, v := range h.Percentile {
				if fin(v) != nil {
					hc.Percentile[k] = v
				}
			}
		}
		c.Histograms[i] = &hc
	}
	return &c
}

// MarshalJSON writes r with NaN and ±Inf (no figure) as null.
func (r BenchRow) MarshalJSON() ([]byte, error) {
	type plain BenchRow // without this method
	return json.Marshal(struct {
		plain
		Min    *float64 `json:"min"`
		Median *float64 `json:"median"`
		Limit  *float64 `json:"limit"`
		Ratio  *float64 `json:"ratio"`
	}{plain(r), fin(r.Min), fin(r.Median), fin(r.Limit), fin(r.Ratio)})
}

// MarshalJSON writes f with NaN and ±Inf (no figure) as null.
func (f BenchFigure) MarshalJSON() ([]byte, error) {
	type plain BenchFigure
	vals := make([]*float64, len(f.Values))
	for i, v := range f.Values {
		vals[i] = fin(v)
	}
	return json.Marshal(struct {
		plain
		Values []*float64 `json:"values"`
		Min    *float64   `json:"min"`
		Median *float64   `json:"median"`
		Max    *float64   `json:"max"`
	}{plain(f), vals, fin(f.Min), fin(f.Median), fin(f.Max)})
}

// MarshalJSON writes s with NaN and ±Inf (no figure) as null.
func (s BenchScaleRow) MarshalJSON() ([]byte, error) {
	type plain BenchScaleRow
	return json.Marshal(struct {
		plain
		Min    *float64 `json:"min"`
		Median *float64 `json:"median"`
		Max    *float64 `json:"max"`
	}{plain(s), fin(s.Min), fin(s.Median), fin(s.Max)})
}

func fin(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteBenchHgrm writes h in the HdrHistogram percentile distribution text
// format (as HistogramLogProcessor and PercentilesPrint produce), values in
// microseconds.
func WriteBenchHgrm(w io.Writer, h *BenchHistogram) error {
	if h.H == nil || h.H.TotalCount() == 0 {
		_, err := fmt.Fprintf(w, "# %s: no values recorded\n", h.Title)
		return err
	}
	_, err := h.H.PercentilesPrint(w, 5, 1000.0)
	return err
}

// BenchFormatValue formats v in unit for the tables.
func BenchFormatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	switch unit {
	case "ms":
		if v >= 100 {
			return fmt.Sprintf("%.0f ms", v)
		}
		return fmt.Sprintf("%.1f ms", v)
	case "us":
		if v >= 10000 {
			return fmt.Sprintf("%.1f ms", v/1000)
		}
		if v >= 100 {
			return fmt.Sprintf("%.0f µs", v)
		}
		return fmt.Sprintf("%.1f µs", v)
	case "ns":
		return fmt.Sprintf("%.0f ns", v)
	case "msgs/s":
		return fmt.Sprintf("%.0f msg/s", v)
	case "MB/s":
		return fmt.Sprintf("%.1f MB/s", v)
	case "x":
		return fmt.Sprintf("%.2f×", v)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

func benchRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2f×", v)
}

// BenchTableColumns are the column headers of the main table.
var BenchTableColumns = []string{"experiment", "impl", "published", "this run (min)", "this run (median)", "raw limit (median)", "ratio to limit", "target", ""}

// BenchTableCells renders rows as table cells.
func BenchTableCells(rows []BenchRow) [][]string {
	var out [][]string
	for _, r := range rows {
		min, med := BenchFormatValue(r.Min, r.Unit), BenchFormatValue(r.Median, r.Unit)
		if r.Error != "" {
			min, med = "FAILED", r.Error
		}
		limit := BenchFormatValue(r.Limit, r.Unit)
		if r.LimitName != "" && limit != "-" {
			limit += " (" + r.LimitName + ")"
		}
		out = append(out, []string{r.Experiment, r.Impl, r.Published, min, med, limit, benchRatio(r.Ratio), r.Target, r.Verdict})
	}
	return out
}

// WriteBenchTable writes rows as an aligned plain-text table.
func WriteBenchTable(w io.Writer, rows []BenchRow) {
	cells := append([][]string{BenchTableColumns}, BenchTableCells(rows)...)
	widths := make([]int, len(BenchTableColumns))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for n, row := range cells {
		var sb strings.Builder
		for i, c := range row {
			sb.WriteString(c)
			if i < len(row)-1 {
				sb.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(sb.String(), " "))
		if n == 0 {
			var sep strings.Builder
			for i := range row {
				sep.WriteString(strings.Repeat("-", widths[i]))
				if i < len(row)-1 {
					sep.WriteString("  ")
				}
			}
			fmt.Fprintln(w, sep.String())
		}
	}
}

func mdRow(w io.Writer, cells []string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// WriteBenchMarkdown writes the human report.
func WriteBenchMarkdown(w io.Writer, r *BenchReport) {
	fmt.Fprintf(w, "# klbench report\n\n")
	fmt.Fprintf(w, "Started %s, took %.1f s. %d repetitions of %d messages of %d B; wait strategy %s, fsync %s.\n\n",
		r.StartedAt, r.DurationSec, r.Config.Reps, r.Config.Count, r.Config.Size, r.Config.Wait, r.Config.Fsync)
	e := r.Env
	fmt.Fprintf(w, "Machine: %s, %d cores, kernel %s, topic filesystem %s, %s, commit %s.\n\n",
		e.CPUModel, e.Cores, e.Kernel, e.Filesystem, e.GoVersion, e.GitCommit)
	if r.Config.Command != "" {
		fmt.Fprintf(w, "Made with:\n\n```sh\n%s\n```\n\n", r.Config.Command)
	}
	fmt.Fprintf(w, "## Experiments\n\n")
	fmt.Fprintf(w, "Ratio to limit: the implementation's rate as a fraction of the raw limit measured in the same run (1.00× = as fast as the bare syscall loop; for latencies, limit ÷ latency).\n\n")
	mdRow(w, append([]string(nil), BenchTableColumns...))
	seps := make([]string, len(BenchTableColumns))
	for i := range seps {
		seps[i] = "---"
	}
	mdRow(w, seps)
	for _, c := range BenchTableCells(r.Rows) {
		mdRow(w, c)
	}
	if len(r.Histograms) > 0 {
		fmt.Fprintf(w, "\n## Latency percentiles (µs)\n\n")
		hdr := []string{"histogram", "count"}
		for _, p := range BenchPercentiles {
			hdr = append(hdr, BenchPercentileKey(p))
		}
		hdr = append(hdr, "file")
		mdRow(w, hdr)
		seps := make([]string, len(hdr))
		for i := range seps {
			seps[i] = "---"
		}
		mdRow(w, seps)
		for _, h := range r.Histograms {
			row := []string{h.Title, fmt.Sprint(h.Count)}
			for _, p := range BenchPercentiles {
				row = append(row, benchNum(h.Percentile[BenchPercentileKey(p)]))
			}
			link := "-"
			if h.File != "" {
				link = fmt.Sprintf("[%s](%s)", h.File, h.File)
			}
			mdRow(w, append(row, link))
		}
	}
	if len(r.Plots) > 0 {
		fmt.Fprintf(w, "\n## Plots\n\n")
		for _, p := range r.Plots {
			fmt.Fprintf(w, "![%s](%s)\n\n", p, p)
		}
	}
	if len(r.Scale) > 0 {
		fmt.Fprintf(w, "## Scale\n\n")
		mdRow(w, []string{"dimension", "setting", "metric", "min", "median", "max", "note"})
		mdRow(w, []string{"---", "---", "---", "---", "---", "---", "---"})
		for _, s := range r.Scale {
			mdRow(w, []string{s.Dimension, s.Setting, s.Metric, BenchFormatValue(s.Min, s.Unit),
				BenchFormatValue(s.Median, s.Unit), BenchFormatValue(s.Max, s.Unit), s.Note})
		}
		fmt.Fprintln(w)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func benchNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteBenchWriteScaleTable writes the scale section as plain text.
func WriteBenchScaleTable(w io.Writer, rows []BenchScaleRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "%-10s %-14s %-22s %14s %14s %14s  %s\n", "dimension", "setting", "metric", "min", "median", "max", "note")
	for _, s := range rows {
		fmt.Fprintf(w, "%-10s %-14s %-22s %14s %14s %14s  %s\n", s.Dimension, s.Setting, s.Metric,
			BenchFormatValue(s.Min, s.Unit), BenchFormatValue(s.Median, s.Unit), BenchFormatValue(s.Max, s.Unit), s.Note)
	}
}

// WriteBenchGoText writes the Go benchmark format lines for benchstat.
func WriteBenchGoText(w io.Writer, r *BenchReport) {
	fmt.Fprintf(w, "goos: linux\ngoarch: amd64\npkg: github.com/kafka-lite/kafka-lite/cmd/klbench\n")
	if r.Env.CPUModel != "" {
		fmt.Fprintf(w, "cpu: %s\n", r.Env.CPUModel)
	}
	for _, g := range r.GoBench {
		fmt.Fprintf(w, "Benchmark%s \t%8d\t%12.0f ns/op", g.Name, 1, g.NsPerOp)
		keys := make([]string, 0, len(g.Extra))
		for k := range g.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "\t%12.2f %s", g.Extra[k], k)
		}
		fmt.Fprintln(w)
	}
}
