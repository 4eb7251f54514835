package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nativeImpl is an implementation measured in its own process, by a bench
// driver it ships (docs/BENCH.md, "Native drivers"). This is how the
// original proof of concept was timed: a loop calling the library once per
// message, with no protocol in between. klbench runs
//
//	CMD produce DIR TOPIC VALUES   append each line of the file VALUES, one append per value
//	CMD process DIR TOPIC COUNT    read COUNT records from the earliest
//
// and reads one JSON object from the last line of its stdout:
//
//	{"elapsed_ns": 4812345678, "count": 100000, "last_offset": 99999}
//
// The driver starts its clock after reading its input and before opening
// the producer or consumer, and stops it when the last append has returned
// or the last record is in hand, as klbench does for ref. Only produce and
// process are measured: latency needs both ends in one clock domain.
type nativeImpl struct {
	name    string
	argv    []string
	timeout time.Duration // per driver run; 0 means nativeTimeout
}

// nativeTimeout bounds one driver run (a slow interpreter writing 100,000
// messages one at a time takes seconds, not minutes).
const nativeTimeout = 5 * time.Minute

func (n *nativeImpl) Name() string               { return n.name }
func (n *nativeImpl) chunkDir(dir string) string { return dir + "/" + topicName }

// parseNative turns a --native value, [NAME=]COMMAND, into a nativeImpl.
func parseNative(spec string) (*nativeImpl, error) {
	name, argv, err := namedCommand("--native", spec)
	if err != nil {
		return nil, err
	}
	return &nativeImpl{name: name, argv: argv}, nil
}

// nativeResult is the JSON line a driver prints.
type nativeResult struct {
	ElapsedNS  *int64 `json:"elapsed_ns"`
	Count      *int   `json:"count"`
	LastOffset *int64 `json:"last_offset"`
}

// run runs the driver with args and returns its checked result.
func (n *nativeImpl) run(ctx context.Context, count int, args ...string) (int64, error) {
	to := n.timeout
	if to == 0 {
		to = nativeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.argv[0], append(append([]string(nil), n.argv[1:]...), args...)...)
	// Its own process group, so that a timeout kills whatever it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	stderr := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	err := cmd.Run()
	what := args[0]
	withStderr := func(err error) error {
		if s := stderr.String(); s != "" {
			if len(s) > 600 {
				s = "…" + s[len(s)-600:]
			}
			return fmt.Errorf("%w; stderr: %s", err, s)
		}
		return err
	}
	if ctx.Err() == context.DeadlineExceeded {
		return 0, withStderr(fmt.Errorf("native %s: no result within %v, killed", what, to))
	}
	if err != nil {
		return 0, withStderr(fmt.Errorf("native %s: %w", what, err))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	var res nativeResult
	dec := json.NewDecoder(strings.NewReader(last))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		return 0, withStderr(fmt.Errorf("native %s: last line of stdout %q is not a result object: %v", what, clip(last, 200), err))
	}
	switch {
	case res.ElapsedNS == nil || res.Count == nil || res.LastOffset == nil:
		return 0, fmt.Errorf("native %s: result %s lacks elapsed_ns, count or last_offset", what, clip(last, 200))
	case *res.ElapsedNS <= 0:
		return 0, fmt.Errorf("native %s: elapsed_ns %d is not positive", what, *res.ElapsedNS)
	case *res.Count != count:
		return 0, fmt.Errorf("native %s: count %d, want %d", what, *res.Count, count)
	case *res.LastOffset != int64(count-1):
		return 0, fmt.Errorf("native %s: last offset %d, want %d", what, *res.LastOffset, count-1)
	}
	return *res.ElapsedNS, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (n *nativeImpl) produce(ctx context.Context, dir string, vals []string) (produceResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return produceResult{}, err
	}
	vf := filepath.Join(filepath.Dir(dir), n.name+".values")
	if err := os.WriteFile(vf, []byte(strings.Join(vals, "\n")+"\n"), 0o644); err != nil {
		return produceResult{}, fmt.Errorf("write values for the native driver: %w", err)
	}
	defer os.Remove(vf)
	el, err := n.run(ctx, len(vals), "produce", dir, topicName, vf)
	if err != nil {
		return produceResult{}, err
	}
	return produceResult{elapsed: el}, nil
}

func (n *nativeImpl) process(ctx context.Context, dir string, count int) (processResult, error) {
	el, err := n.run(ctx, count, "process", dir, topicName, strconv.Itoa(count))
	if err != nil {
		return processResult{}, err
	}
	return processResult{elapsed: el}, nil
}

// errNoParallel: a native driver measures produce and process only.
var errNoParallel = errors.New("a native driver measures produce and process only")

func (n *nativeImpl) parallel(context.Context, string, []string, parallelSpec) (parallelResult, error) {
	return parallelResult{}, errNoParallel
}
