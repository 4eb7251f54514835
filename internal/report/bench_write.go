package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"
)

// BenchTableWidth is the width the plain-text tables and their legends
// keep within.
const BenchTableWidth = 120

// WriteBenchReport writes report.json, report.md, one .hgrm per histogram,
// the latency-by-percentile plots (SVG and PNG) and bench.txt into dir,
// which must exist. It does not remove what dir held before: see
// CleanBenchReportDir.
func WriteBenchReport(dir string, r *BenchReport) error {
	byName := map[string]*BenchHistogram{}
	for _, h := range r.Histograms {
		h.File = h.Name + ".hgrm"
		byName[h.Name] = h
		var b bytes.Buffer
		if err := WriteBenchHgrm(&b, h); err != nil {
			return fmt.Errorf("histogram %s: %w", h.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, h.File), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	colours := BenchColours(r.Config.Impls)
	for i := range r.Plots {
		files, err := WriteBenchPlot(dir, r.Plots[i], byName, colours)
		if err != nil {
			return fmt.Errorf("plot %s: %w", r.Plots[i].Name, err)
		}
		r.Plots[i].Files = files
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
	if err := WriteBenchGoText(&b, r); err != nil {
		return fmt.Errorf("bench.txt: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "bench.txt"), b.Bytes(), 0o644)
}

// benchReportFile says whether name is one of the files WriteBenchReport
// writes.
func benchReportFile(name string) bool {
	switch name {
	case "report.json", "report.md", "bench.txt":
		return true
	}
	return strings.HasSuffix(name, ".hgrm") ||
		strings.HasPrefix(name, "plot-") && (strings.HasSuffix(name, ".svg") || strings.HasSuffix(name, ".png"))
}

// CleanBenchReportDir removes from dir the files a klbench report is made
// of (report.json, report.md, bench.txt, *.hgrm, plot-*.svg, plot-*.png),
// so that a report written there next has no stale plot or histogram of
// an earlier run beside it. Other files are left alone. A dir that does
// not exist is clean.
func CleanBenchReportDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() && benchReportFile(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteBenchJSON writes r as indented JSON. NaN and ±Inf (a figure that
// could not be measured, an interval too few repetitions cannot give) are
// written as null.
func WriteBenchJSON(w io.Writer, r *BenchReport) error {
	b, err := json.MarshalIndent(benchSanitize(r), "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// benchSanitize returns r in a form encoding/json accepts: NaN and Inf,
// which it refuses, are left out of histogram percentiles. (The other
// types write them as null themselves; see their MarshalJSON.) r itself is
// not changed.
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

// benchStatsJSON is BenchStats with null for NaN and ±Inf; embedded in
// the MarshalJSON structs below, its fields win over the embedded
// BenchStats' (they are one level shallower).
type benchStatsJSON struct {
	N          int      `json:"repetitions"`
	Min        *float64 `json:"min"`
	Median     *float64 `json:"median"`
	Max        *float64 `json:"max"`
	Lo         *float64 `json:"ciLow"`
	Hi         *float64 `json:"ciHigh"`
	Confidence *float64 `json:"ciConfidence,omitempty"`
}

func (s BenchStats) forJSON() benchStatsJSON {
	j := benchStatsJSON{N: s.N, Min: fin(s.Min), Median: fin(s.Median), Max: fin(s.Max), Lo: fin(s.Lo), Hi: fin(s.Hi)}
	if s.Confidence != 0 {
		j.Confidence = fin(s.Confidence)
	}
	return j
}

// MarshalJSON writes v with NaN and ±Inf (not measured) as null.
func (v BenchGoValue) MarshalJSON() ([]byte, error) {
	type plain BenchGoValue
	return json.Marshal(struct {
		plain
		Value *float64 `json:"value"`
	}{plain(v), fin(v.Value)})
}

func fins(v []float64) []*float64 {
	out := make([]*float64, len(v))
	for i, x := range v {
		out[i] = fin(x)
	}
	return out
}

// MarshalJSON writes r with NaN and ±Inf (no figure) as null.
func (r BenchRow) MarshalJSON() ([]byte, error) {
	type plain BenchRow // without this method
	return json.Marshal(struct {
		plain
		benchStatsJSON
		Limit   *float64 `json:"limit"`
		Ratio   *float64 `json:"ratio"`
		RatioLo *float64 `json:"ratioCILow"`
		RatioHi *float64 `json:"ratioCIHigh"`
	}{plain(r), r.BenchStats.forJSON(), fin(r.Limit), fin(r.Ratio), fin(r.RatioLo), fin(r.RatioHi)})
}

// MarshalJSON writes f with NaN and ±Inf (no figure) as null.
func (f BenchFigure) MarshalJSON() ([]byte, error) {
	type plain BenchFigure
	return json.Marshal(struct {
		plain
		benchStatsJSON
		Values []*float64 `json:"values"`
	}{plain(f), f.BenchStats.forJSON(), fins(f.Values)})
}

// MarshalJSON writes l with NaN and ±Inf (no figure) as null.
func (l BenchLimit) MarshalJSON() ([]byte, error) {
	type plain BenchLimit
	return json.Marshal(struct {
		plain
		benchStatsJSON
	}{plain(l), l.BenchStats.forJSON()})
}

// MarshalJSON writes s with NaN and ±Inf (no figure) as null.
func (s BenchScaleRow) MarshalJSON() ([]byte, error) {
	type plain BenchScaleRow
	return json.Marshal(struct {
		plain
		benchStatsJSON
		Values []*float64 `json:"values"`
	}{plain(s), s.BenchStats.forJSON(), fins(s.Values)})
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
		return benchRatio(v)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

func benchRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f×", v)
	case v >= 10:
		return fmt.Sprintf("%.1f×", v)
	}
	return fmt.Sprintf("%.2f×", v)
}

// benchCI is the median's confidence interval as "±4%", "±∞" with too few
// repetitions for one, "-" with no median.
func benchCI(s BenchStats) string {
	p := s.CIPercent()
	switch {
	case math.IsNaN(p):
		return "-"
	case math.IsInf(p, 0):
		return "±∞"
	case p > 9.99:
		return "±>999%"
	}
	return fmt.Sprintf("±%.0f%%", 100*p)
}

// benchSpread is max ÷ min as "1.08×", with " wide" above BenchWideSpread.
func benchSpread(s BenchStats) string {
	sp := s.Spread()
	if math.IsNaN(sp) || s.N < 2 {
		return "-"
	}
	out := benchRatio(sp)
	if s.Wide() {
		out += " wide"
	}
	return out
}

// benchLimitCell is the limit column: the limit's median and its tag.
func benchLimitCell(r BenchRow) string {
	v := BenchFormatValue(r.Limit, r.Unit)
	if v == "-" || r.LimitTag == "" {
		return "-"
	}
	return v + " " + r.LimitTag
}

// benchRatioCell is the ratio column, with RatioMark.
func benchRatioCell(r BenchRow) string {
	s := benchRatio(r.Ratio)
	if m := r.RatioMark(); m != "" {
		s += " " + m
	}
	return s
}

// BenchTableColumns are the column headers of the plain-text experiments
// table.
var BenchTableColumns = []string{"experiment", "impl", "median", "95% CI", "spread", "limit", "ratio", "target", ""}

// BenchTableCells renders rows as the plain-text table's cells. A failed
// row says FAILED; its error is listed under the table (see
// WriteBenchTable), where it can be long.
func BenchTableCells(rows []BenchRow) [][]string {
	var out [][]string
	for _, r := range rows {
		med, ci, spread := BenchFormatValue(r.Median, r.Unit), benchCI(r.BenchStats), benchSpread(r.BenchStats)
		if r.Error != "" {
			med, ci, spread = "FAILED", "", ""
		}
		out = append(out, []string{r.Experiment, r.Impl, med, ci, spread, benchLimitCell(r), benchRatioCell(r), r.Target, r.Verdict})
	}
	return out
}

// writeTab writes rows of cells aligned with text/tabwriter, two spaces
// between columns, a dashed line under the first row, no space at the
// ends of lines.
func writeTab(w io.Writer, rows [][]string) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.DiscardEmptyColumns)
	for i, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		if i == 0 {
			dashes := make([]string, len(row))
			for j, c := range row {
				dashes[j] = strings.Repeat("-", len([]rune(c)))
			}
			fmt.Fprintln(tw, strings.Join(dashes, "\t")+"\t")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lines := bytes.Split(b.Bytes(), []byte("\n"))
	for i := range lines {
		lines[i] = bytes.TrimRight(lines[i], " ")
	}
	_, err := w.Write(bytes.Join(lines, []byte("\n")))
	return err
}

// wrap breaks s into lines of at most width runes at spaces, each but the
// first indented by indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := len([]rune(word))
		if i > 0 && line+1+n > width {
			b.WriteString("\n" + indent)
			line = len(indent)
		} else if i > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

// benchLegend explains the table's columns and marks, in lines of plain
// text.
func benchLegend(rows []BenchRow, limits []BenchLimit) []string {
	out := []string{
		"median: of the repetitions; 95% CI: of the median (golang.org/x/perf/benchmath, no distribution assumed; ±∞: fewer than 6 repetitions); spread: max ÷ min of the repetitions, \"wide\" above 3×.",
		"ratio: the limit's time ÷ the implementation's (for latencies, limit ÷ latency), per repetition, then the median: 1.00× = as fast as the limit measured in the same run.",
	}
	marks := map[string]bool{}
	for _, r := range rows {
		marks[r.RatioMark()] = true
	}
	if marks["~"] {
		out = append(out, "~ after a ratio: above 1× but within the noise (its 95% CI includes 1×): as fast as the limit.")
	}
	if marks["!"] {
		out = append(out, "! after a ratio: above 1× beyond the noise: that limit does work the implementation does not, so it is no limit for that row; read the row as a comparison only.")
	}
	for _, l := range limits {
		out = append(out, fmt.Sprintf("%s: %s (median %s).", l.Tag, l.What, BenchFormatValue(l.Median, l.Unit)))
	}
	return out
}

// WriteBenchTable writes rows as an aligned plain-text table within
// BenchTableWidth columns, then the failures and the legend.
func WriteBenchTable(w io.Writer, rows []BenchRow, limits []BenchLimit) error {
	if err := writeTab(w, append([][]string{BenchTableColumns}, BenchTableCells(rows)...)); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(w, "FAILED %s, %s: %s\n", r.Experiment, r.Impl, wrap(r.Error, BenchTableWidth-2, "  "))
		}
	}
	fmt.Fprintln(w)
	for _, l := range benchLegend(rows, limits) {
		if _, err := fmt.Fprintln(w, wrap(l, BenchTableWidth, "  ")); err != nil {
			return err
		}
	}
	return nil
}

func mdRow(w io.Writer, cells []string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(strings.ReplaceAll(c, "|", `\|`), "\n", " ")
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

func mdHeader(w io.Writer, cells ...string) {
	mdRow(w, cells)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	mdRow(w, seps)
}

// benchRange is "min – max (spread)".
func benchRange(s BenchStats, unit string) string {
	if s.N == 0 || math.IsNaN(s.Min) {
		return "-"
	}
	return fmt.Sprintf("%s – %s (%s)", BenchFormatValue(s.Min, unit), BenchFormatValue(s.Max, unit), benchSpread(s))
}

// WriteBenchMarkdown writes the human report: the headline, the
// experiments table and its legend, the raw limits, the percentiles of
// every histogram, the plots, the scale section and the notes.
func WriteBenchMarkdown(w io.Writer, r *BenchReport) {
	fmt.Fprintf(w, "# klbench report\n\n")
	for _, h := range r.Headline {
		fmt.Fprintf(w, "- %s\n", h)
	}
	if len(r.Headline) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Started %s, took %.1f s. %d repetitions of %d messages of %d B; wait strategy %s, fsync %s.\n\n",
		r.StartedAt, r.DurationSec, r.Config.Reps, r.Config.Count, r.Config.Size, r.Config.Wait, r.Config.Fsync)
	e := r.Env
	fmt.Fprintf(w, "Machine: %s, %d cores, kernel %s, topic filesystem %s, %s, commit %s.\n\n",
		e.CPUModel, e.Cores, e.Kernel, e.Filesystem, e.GoVersion, e.GitCommit)
	if r.Config.Command != "" {
		fmt.Fprintf(w, "Made with:\n\n```sh\n%s\n```\n\n", r.Config.Command)
	}
	fmt.Fprintf(w, "## Experiments\n\n")
	mdHeader(w, "experiment", "impl", "median", "95% CI", "min – max (spread)", "limit", "ratio", "target", "verdict", "published (PoC)")
	for _, row := range r.Rows {
		med, ci, rng := BenchFormatValue(row.Median, row.Unit), benchCI(row.BenchStats), benchRange(row.BenchStats, row.Unit)
		if row.Error != "" {
			med, ci, rng = "FAILED: "+clipText(row.Error, 300), "", ""
		}
		mdRow(w, []string{row.Experiment, row.Impl, med, ci, rng, benchLimitCell(row), benchRatioCell(row), row.Target, row.Verdict, row.Published})
	}
	fmt.Fprintln(w)
	for _, l := range benchLegend(r.Rows, nil) {
		fmt.Fprintf(w, "- %s\n", l)
	}
	if len(r.Limits) > 0 {
		fmt.Fprintf(w, "\n## Raw limits\n\nMeasured in the same repetitions as the implementations, back to back.\n\n")
		mdHeader(w, "limit", "what", "median", "95% CI", "min – max (spread)")
		for _, l := range r.Limits {
			mdRow(w, []string{l.Tag, l.What, BenchFormatValue(l.Median, l.Unit), benchCI(l.BenchStats), benchRange(l.BenchStats, l.Unit)})
		}
	}
	if len(r.Histograms) > 0 {
		fmt.Fprintf(w, "\n## Latency percentiles (µs)\n\n")
		hdr := []string{"histogram", "count"}
		for _, p := range BenchPercentiles {
			hdr = append(hdr, BenchPercentileKey(p))
		}
		mdHeader(w, append(hdr, "file")...)
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
		fmt.Fprintf(w, "\n## Plots\n\nLatency by percentile; the raw limits are the black dashed curves.\n\n")
		for _, p := range r.Plots {
			var svg, png string
			for _, f := range p.Files {
				switch filepath.Ext(f) {
				case ".svg":
					svg = f
				case ".png":
					png = f
				}
			}
			if svg == "" {
				continue
			}
			fmt.Fprintf(w, "![%s](%s)\n\n", p.Title, svg)
			if png != "" {
				fmt.Fprintf(w, "[PNG](%s)", png)
				if p.Note != "" {
					fmt.Fprintf(w, " · %s", p.Note)
				}
				fmt.Fprintf(w, "\n\n")
			}
		}
	}
	if len(r.Scale) > 0 {
		fmt.Fprintf(w, "\n## Scale\n\n")
		mdHeader(w, "dimension", "setting", "metric", "median", "95% CI", "min – max (spread)", "note")
		for _, s := range r.Scale {
			mdRow(w, []string{s.Dimension, s.Setting, s.Metric, BenchFormatValue(s.Median, s.Unit), benchCI(s.BenchStats), benchRange(s.BenchStats, s.Unit), s.Note})
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
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

// WriteBenchScaleTable writes the scale section as an aligned plain-text
// table.
func WriteBenchScaleTable(w io.Writer, rows []BenchScaleRow) error {
	if len(rows) == 0 {
		return nil
	}
	cells := [][]string{{"dimension", "setting", "metric", "median", "95% CI", "spread", "note"}}
	for _, s := range rows {
		cells = append(cells, []string{s.Dimension, s.Setting, s.Metric, BenchFormatValue(s.Median, s.Unit), benchCI(s.BenchStats), benchSpread(s.BenchStats), s.Note})
	}
	return writeTab(w, cells)
}

// WriteBenchGoText writes every bench.txt line in the Go benchmark format
// (golang.org/x/perf/benchfmt), for benchstat: the machine as file
// configuration, and a "Unit … better=…" line for each unit whose better
// direction benchstat would not know.
func WriteBenchGoText(w io.Writer, r *BenchReport) error {
	bw := benchfmt.NewWriter(w)
	seen := map[string]bool{}
	for _, g := range r.GoBench {
		for _, v := range g.Values {
			if seen[v.Unit] {
				continue
			}
			seen[v.Unit] = true
			if better := benchBetter(v.Unit); better != "" {
				m := &benchfmt.UnitMetadata{UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: v.Unit, Key: "better"}, OrigUnit: v.Unit, Value: better}
				if err := bw.Write(m); err != nil {
					return err
				}
			}
		}
	}
	cfg := []benchfmt.Config{
		{Key: "goos", Value: []byte("linux"), File: true},
		{Key: "goarch", Value: []byte("amd64"), File: true},
		{Key: "pkg", Value: []byte("github.com/kafka-lite/kafka-lite/cmd/klbench"), File: true},
	}
	if r.Env.CPUModel != "" {
		cfg = append(cfg, benchfmt.Config{Key: "cpu", Value: []byte(r.Env.CPUModel), File: true})
	}
	for _, g := range r.GoBench {
		res := &benchfmt.Result{Config: cfg, Name: benchfmt.Name(g.Name), Iters: 1}
		for _, v := range g.Values {
			if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
				continue
			}
			res.Values = append(res.Values, benchfmt.Value{Value: v.Value, Unit: v.Unit})
		}
		if len(res.Values) == 0 {
			continue
		}
		if err := bw.Write(res); err != nil {
			return err
		}
	}
	return nil
}

// benchBetter is whether higher or lower values of unit are better, for
// the units benchstat does not know ("" for those it does, and for
// units without a direction).
func benchBetter(unit string) string {
	switch {
	case unit == "ns/op" || unit == "MB/s":
		return ""
	case strings.HasSuffix(unit, "-ns"):
		return "lower"
	case strings.HasSuffix(unit, "/s"), strings.HasSuffix(unit, "ratio"), strings.HasSuffix(unit, "speedup"):
		return "higher"
	}
	return ""
}
