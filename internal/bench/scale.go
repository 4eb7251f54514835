package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sync/errgroup"

	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

type scaleConfig struct {
	base  string
	quick bool
	size  int
	reps  int
	prog  *progress
}

// scaler accumulates the scale section's rows.
type scaler struct {
	c    scaleConfig
	rows []report.BenchScaleRow
	rep  int
}

func (s *scaler) add(dim, setting, metric, unit string, vals []float64, note string) {
	s.rows = append(s.rows, report.BenchScaleRow{Dimension: dim, Setting: setting, Metric: metric, Unit: unit,
		Values: append([]float64(nil), vals...), BenchStats: report.BenchSummarize(vals), Note: note})
}

// scaleGoBench are bench.txt's lines of the scale section: one per
// dimension, setting and repetition, each metric a unit
// ("BenchmarkScale/producers=4 1 555903 msgs/s 48100 append-p99-ns").
func scaleGoBench(rows []report.BenchScaleRow) []report.BenchGoResult {
	type line struct {
		name string
		rows []report.BenchScaleRow
	}
	var lines []*line
	byName := map[string]*line{}
	reps := 0
	for _, r := range rows {
		name := "Scale/" + r.Dimension + "=" + strings.ReplaceAll(r.Setting, " ", "")
		l, ok := byName[name]
		if !ok {
			l = &line{name: name}
			byName[name] = l
			lines = append(lines, l)
		}
		l.rows = append(l.rows, r)
		reps = max(reps, len(r.Values))
	}
	var out []report.BenchGoResult
	for rep := 0; rep < reps; rep++ {
		for _, l := range lines {
			g := report.BenchGoResult{Name: l.name}
			for _, r := range l.rows {
				if rep >= len(r.Values) {
					continue
				}
				v, unit := r.Values[rep], scaleUnit(r)
				if r.Unit == "us" {
					v *= 1e3
				}
				g.Values = append(g.Values, report.BenchGoValue{Value: v, Unit: unit})
			}
			if len(g.Values) > 0 {
				out = append(out, g)
			}
		}
	}
	return out
}

// scaleUnit is the bench.txt unit of a scale row: "msgs/s" for its rate,
// "append-p99-ns", "produce-MB/s".
func scaleUnit(r report.BenchScaleRow) string {
	m := r.Metric
	if i := strings.IndexByte(m, '('); i > 0 {
		m = strings.TrimSpace(m[:i])
	}
	slug := strings.ReplaceAll(strings.ReplaceAll(m, " ", "-"), "/", "-")
	switch r.Unit {
	case "msgs/s":
		return "msgs/s"
	case "us":
		return slug + "-ns"
	}
	return slug + "-" + r.Unit
}

func (s *scaler) dir() string {
	s.rep++
	return filepath.Join(s.c.base, fmt.Sprintf("scale%d", s.rep))
}

// runScale measures throughput and latency against producers, consumers,
// record size, fsync mode, chunk count and ack count, on the reference log.
func runScale(ctx context.Context, c scaleConfig) ([]report.BenchScaleRow, error) {
	s := &scaler{c: c}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	reps := max(c.reps, 1)
	perProducer, totalRead := 50000, 100000
	sizes := []int{100, 1 << 10, 10 << 10, 100 << 10, 1 << 20}
	sizeBytes := 64 << 20
	chunkCounts := []int{10, 100, 1000, 10000}
	ackCounts := []int{10, 1000, 100000}
	fsyncCounts := map[ref.FsyncMode]int{ref.FsyncNever: 20000, ref.FsyncInterval: 20000, ref.FsyncAlways: 2000}
	if c.quick {
		perProducer, totalRead, sizeBytes = 5000, 20000, 8<<20
		chunkCounts = []int{10, 100, 1000}
		ackCounts = []int{10, 1000, 10000}
		fsyncCounts = map[ref.FsyncMode]int{ref.FsyncNever: 5000, ref.FsyncInterval: 5000, ref.FsyncAlways: 300}
		reps = 1
	}

	// producers: separate processes (re-executed klbench produce-worker)
	for _, np := range []int{1, 2, 4, 8} {
		var rates, p99 []float64
		for r := 0; r < reps; r++ {
			c.prog.step(fmt.Sprintf("scale: %d producer processes, rep %d/%d", np, r+1, reps))
			rate, h, err := runProducers(ctx, self, s.dir(), np, perProducer, c.size)
			if err != nil {
				return nil, fmt.Errorf("scale, %d producers: %w", np, err)
			}
			rates = append(rates, rate)
			p99 = append(p99, report.BenchQuantileNS(h, 99)/1e3)
		}
		note := fmt.Sprintf("%d processes × %d msgs", np, perProducer)
		s.add("producers", fmt.Sprint(np), "aggregate rate", "msgs/s", rates, note)
		s.add("producers", fmt.Sprint(np), "append p99", "us", p99, "")
	}

	// consumers: goroutines, each its own consumer from the earliest record
	fill := s.dir()
	if err := fillTopic(fill, ref.Options{}, totalRead, c.size); err != nil {
		return nil, err
	}
	for _, nc := range []int{1, 4, 16} {
		var rates []float64
		for r := 0; r < reps; r++ {
			c.prog.step(fmt.Sprintf("scale: %d consumers, rep %d/%d", nc, r+1, reps))
			rate, err := runConsumers(ctx, fill, nc, totalRead)
			if err != nil {
				return nil, fmt.Errorf("scale, %d consumers: %w", nc, err)
			}
			rates = append(rates, rate)
		}
		s.add("consumers", fmt.Sprint(nc), "aggregate read rate", "msgs/s", rates, fmt.Sprintf("each reads all %d", totalRead))
	}

	// record size
	for _, size := range sizes {
		n := max(20, min(100000, sizeBytes/size))
		var wr, rd, p99 []float64
		for r := 0; r < reps; r++ {
			c.prog.step(fmt.Sprintf("scale: %d B records, rep %d/%d", size, r+1, reps))
			d := s.dir()
			im := &refImpl{}
			vals := make([]string, n)
			for i := range vals {
				vals[i] = makeValue(i, size-2)
			}
			pr, err := im.produce(ctx, d, vals)
			if err != nil {
				return nil, fmt.Errorf("scale, size %d: %w", size, err)
			}
			rr, err := im.process(ctx, d, n)
			if err != nil {
				return nil, fmt.Errorf("scale, size %d: %w", size, err)
			}
			wr = append(wr, float64(n*size)/1e6/(float64(pr.elapsed)/1e9))
			rd = append(rd, float64(n*size)/1e6/(float64(rr.elapsed)/1e9))
			p99 = append(p99, report.BenchQuantileNS(pr.publish, 99)/1e3)
			os.RemoveAll(d)
		}
		set := sizeLabel(size)
		s.add("size", set, "produce", "MB/s", wr, fmt.Sprintf("%d msgs", n))
		s.add("size", set, "process", "MB/s", rd, "")
		s.add("size", set, "append p99", "us", p99, "")
	}

	// fsync mode
	for _, m := range []ref.FsyncMode{ref.FsyncNever, ref.FsyncInterval, ref.FsyncAlways} {
		n := fsyncCounts[m]
		var rates, p50, p99 []float64
		for r := 0; r < reps; r++ {
			c.prog.step(fmt.Sprintf("scale: fsync %s, rep %d/%d", m, r+1, reps))
			d := s.dir()
			im := &refImpl{opts: ref.Options{Fsync: m}}
			vals := make([]string, n)
			for i := range vals {
				vals[i] = makeValue(i, c.size-2)
			}
			pr, err := im.produce(ctx, d, vals)
			if err != nil {
				return nil, fmt.Errorf("scale, fsync %s: %w", m, err)
			}
			rates = append(rates, float64(n)/(float64(pr.elapsed)/1e9))
			p50 = append(p50, report.BenchQuantileNS(pr.publish, 50)/1e3)
			p99 = append(p99, report.BenchQuantileNS(pr.publish, 99)/1e3)
			os.RemoveAll(d)
		}
		s.add("fsync", string(m), "produce rate", "msgs/s", rates, fmt.Sprintf("%d msgs", n))
		s.add("fsync", string(m), "append p50", "us", p50, "")
		s.add("fsync", string(m), "append p99", "us", p99, "")
	}

	// chunk count: open time and seek-to-offset time
	const perChunk = 10
	for _, nch := range chunkCounts {
		c.prog.step(fmt.Sprintf("scale: %d chunks (filling)", nch))
		d := s.dir()
		opts := ref.Options{ChunkRecords: perChunk}
		n := nch * perChunk
		if err := fillTopic(d, opts, n, c.size); err != nil {
			return nil, fmt.Errorf("scale, %d chunks: %w", nch, err)
		}
		var open, seek []float64
		for r := 0; r < max(reps, 3); r++ {
			o, sk, err := openAndSeek(ctx, d, opts, int64(n/2))
			if err != nil {
				return nil, fmt.Errorf("scale, %d chunks: %w", nch, err)
			}
			open, seek = append(open, o), append(seek, sk)
		}
		s.add("chunks", fmt.Sprint(nch), "open topic", "us", open, fmt.Sprintf("%d records/chunk", perChunk))
		s.add("chunks", fmt.Sprint(nch), "seek to middle offset", "us", seek, "NewConsumer(FromOffset) + first Poll")
		os.RemoveAll(d)
	}

	// resume time vs number of acks (must stay flat)
	for _, na := range ackCounts {
		c.prog.step(fmt.Sprintf("scale: resume after %d acks", na))
		d := s.dir()
		if err := fillTopic(d, ref.Options{}, 1000, c.size); err != nil {
			return nil, err
		}
		if err := writeAcks(d, na, 1000); err != nil {
			return nil, fmt.Errorf("scale, %d acks: %w", na, err)
		}
		var res []float64
		for r := 0; r < max(reps, 3); r++ {
			v, err := resumeTime(ctx, d)
			if err != nil {
				return nil, fmt.Errorf("scale, resume after %d acks: %w", na, err)
			}
			res = append(res, v)
		}
		s.add("acks", fmt.Sprint(na), "resume (open+first poll)", "us", res, "must stay flat")
		os.RemoveAll(d)
	}
	return s.rows, nil
}

func sizeLabel(b int) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}

func fillTopic(dir string, opts ref.Options, n, size int) error {
	t, err := ref.Open(dir, topicName, opts)
	if err != nil {
		return err
	}
	defer t.Close()
	p, err := t.NewProducer()
	if err != nil {
		return err
	}
	batch := make([][]byte, 0, 100)
	for i := 0; i < n; i++ {
		batch = append(batch, jsonPayload(makeValue(i, size-2)))
		if len(batch) == cap(batch) || i == n-1 || opts.ChunkRecords > 0 {
			if err := p.AppendBatch(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return p.Close()
}

func runConsumers(ctx context.Context, dir string, nc, n int) (float64, error) {
	t, err := ref.Open(dir, topicName, ref.Options{})
	if err != nil {
		return 0, err
	}
	defer t.Close()
	g, gctx := errgroup.WithContext(ctx)
	t0 := mono()
	for i := 0; i < nc; i++ {
		g.Go(func() error {
			c, err := t.NewConsumer(ref.ConsumerOptions{From: ref.FromEarliest})
			if err != nil {
				return fmt.Errorf("consumer %d: %w", i, err)
			}
			defer c.Close()
			cctx, cancel := context.WithTimeout(gctx, 60*time.Second)
			defer cancel()
			for got := 0; got < n; {
				recs, err := c.Poll(cctx, 4096)
				if err != nil {
					return fmt.Errorf("consumer %d: poll after %d of %d records: %w", i, got, n, err)
				}
				got += len(recs)
			}
			return nil
		})
	}
	err = g.Wait()
	el := mono() - t0
	if err != nil {
		return 0, err
	}
	return float64(nc*n) / (float64(el) / 1e9), nil
}

func openAndSeek(ctx context.Context, dir string, opts ref.Options, off int64) (openUS, seekUS float64, err error) {
	t0 := mono()
	t, err := ref.Open(dir, topicName, opts)
	if err != nil {
		return 0, 0, err
	}
	defer t.Close()
	t1 := mono()
	c, err := t.NewConsumer(ref.ConsumerOptions{From: ref.FromOffset, Offset: off})
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	recs, err := c.Poll(cctx, 1)
	if err != nil {
		return 0, 0, err
	}
	t2 := mono()
	if len(recs) != 1 || recs[0].Offset != off {
		return 0, 0, fmt.Errorf("seek to %d delivered %v", off, recs)
	}
	return us(t1 - t0), us(t2 - t1), nil
}

func writeAcks(dir string, na, n int) error {
	t, err := ref.Open(dir, topicName, ref.Options{})
	if err != nil {
		return err
	}
	defer t.Close()
	c, err := t.NewConsumer(ref.ConsumerOptions{Group: "g", From: ref.FromAcked})
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; i < na; i++ {
		if err := c.Ack(int64(i % (n / 2))); err != nil {
			return err
		}
	}
	return nil
}

func resumeTime(ctx context.Context, dir string) (float64, error) {
	t0 := mono()
	t, err := ref.Open(dir, topicName, ref.Options{})
	if err != nil {
		return 0, err
	}
	defer t.Close()
	c, err := t.NewConsumer(ref.ConsumerOptions{Group: "g", From: ref.FromAcked})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Poll(cctx, 1); err != nil {
		return 0, err
	}
	return us(mono() - t0), nil
}

// workerResult is what a produce-worker prints.
type workerResult struct {
	ElapsedNS int64                  `json:"elapsed_ns"`
	Hist      *hdrhistogram.Snapshot `json:"hist"`
}

// runProducers starts np produce-worker processes on one topic, releases
// them together, and returns the aggregate rate and merged append latency.
func runProducers(ctx context.Context, self, dir string, np, perProducer, size int) (float64, *hdrhistogram.Histogram, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, nil, err
	}
	type w struct {
		cmd  *exec.Cmd
		in   io.WriteCloser
		out  *bufio.Reader
		errb *tailBuffer
	}
	var ws []*w
	kill := func() {
		for _, x := range ws {
			x.cmd.Process.Kill()
			x.cmd.Wait()
		}
	}
	for i := 0; i < np; i++ {
		cmd := exec.CommandContext(ctx, self, "produce-worker", "--dir", dir, "--count", fmt.Sprint(perProducer), "--size", fmt.Sprint(size), "--id", fmt.Sprint(i))
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		tb := &tailBuffer{}
		cmd.Stderr = tb
		if err := cmd.Start(); err != nil {
			kill()
			return 0, nil, err
		}
		ws = append(ws, &w{cmd: cmd, in: in, out: bufio.NewReader(out), errb: tb})
	}
	for _, x := range ws {
		line, err := x.out.ReadString('\n')
		if err != nil || line != "ready\n" {
			kill()
			return 0, nil, fmt.Errorf("produce-worker did not start: %q %v %s", line, err, x.errb.String())
		}
	}
	t0 := mono()
	for _, x := range ws {
		io.WriteString(x.in, "go\n")
	}
	h := newHist()
	for _, x := range ws {
		line, err := x.out.ReadString('\n')
		var r workerResult
		if err == nil {
			err = json.Unmarshal([]byte(line), &r)
		}
		if err != nil || r.Hist == nil {
			kill()
			return 0, nil, fmt.Errorf("produce-worker: %v %s", err, x.errb.String())
		}
		h.Merge(hdrhistogram.Import(r.Hist))
	}
	el := mono() - t0
	for _, x := range ws {
		x.in.Close()
		if err := x.cmd.Wait(); err != nil {
			return 0, nil, fmt.Errorf("produce-worker: %v %s", err, x.errb.String())
		}
	}
	os.RemoveAll(dir)
	return float64(np*perProducer) / (float64(el) / 1e9), h, nil
}

// produceWorker is `klbench produce-worker`: it opens the topic, prints
// "ready", waits for a line on stdin, appends --count messages, and prints
// its elapsed time and append-latency histogram as one JSON line.
func produceWorker(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("produce-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "topic directory")
	count := fs.Int("count", 10000, "messages")
	size := fs.Int("size", 100, "payload bytes")
	id := fs.Int("id", 0, "worker number")
	if err := fs.Parse(args); err != nil || *dir == "" {
		fmt.Fprintln(stderr, "usage: klbench produce-worker --dir D [--count N] [--size B] [--id I]")
		return 2
	}
	t, err := ref.Open(*dir, topicName, ref.Options{})
	if err != nil {
		return exitErr(stderr, err)
	}
	defer t.Close()
	p, err := t.NewProducer()
	if err != nil {
		return exitErr(stderr, err)
	}
	pl := make([][]byte, *count)
	for i := range pl {
		pl[i] = jsonPayload(makeValue(*id**count+i, *size-2))
	}
	fmt.Fprintln(stdout, "ready")
	if _, err := bufio.NewReader(stdin).ReadString('\n'); err != nil {
		return exitErr(stderr, fmt.Errorf("produce-worker: no go signal: %w", err))
	}
	h := newHist()
	t0 := mono()
	prev := t0
	for _, v := range pl {
		if _, err := p.Append(v); err != nil {
			return exitErr(stderr, err)
		}
		now := mono()
		record(h, now-prev)
		prev = now
	}
	if err := p.Close(); err != nil {
		return exitErr(stderr, err)
	}
	b, _ := json.Marshal(workerResult{ElapsedNS: prev - t0, Hist: h.Export()})
	fmt.Fprintln(stdout, string(b))
	return 0
}
