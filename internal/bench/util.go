// Package bench holds klbench's experiments: the original proof of
// concept's produce, process and parallel runs on the reference log and on
// implementations behind adapter protocol v1, the raw limits measured in the
// same run, the scale section and the regression gate. docs/BENCH.md
// explains what each figure means.
package bench

import (
	"golang.org/x/sys/unix"

	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// epoch is the base of mono: every timestamp the harness takes is ns since
// epoch on Go's monotonic clock.
var epoch = time.Now()

// mono returns monotonic ns since the process's epoch.
func mono() int64 { return int64(time.Since(epoch)) }

// newHist is a latency histogram of ns from 1 ns to 100 s, 3 significant
// digits. Each goroutine records into its own and they are merged.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(100*time.Second), 3)
}

// record adds v (ns) to h, clamping into its range.
func record(h *hdrhistogram.Histogram, v int64) {
	if v < 1 {
		v = 1
	}
	if v > h.HighestTrackableValue() {
		v = h.HighestTrackableValue()
	}
	_ = h.RecordValue(v)
}

func mergeHists(hs ...*hdrhistogram.Histogram) *hdrhistogram.Histogram {
	out := newHist()
	for _, h := range hs {
		if h != nil {
			out.Merge(h)
		}
	}
	return out
}

// spinUntil busy-waits until mono() >= t.
func spinUntil(t int64) {
	for mono() < t {
	}
}

// yieldUntil busy-waits until mono() >= t, giving the CPU back to the kernel
// on each turn. A producer that spins without yielding on a 2-core machine
// holds its CPU for a whole scheduler slice, and the consumer thread that
// inotify wakes is often queued behind it for 3 to 4 ms (measured: p99 of
// e2e latency 3 ms with spinUntil, under 200 µs with yieldUntil). The
// benchmark would charge that to the log, though a real producer does not
// spin. Use it whenever the consumer sleeps in the kernel; a spinning
// consumer has its own core and is better served by spinUntil.
func yieldUntil(t int64) {
	for mono() < t {
		_, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

// sleepUntil waits until mono() >= t: a timer sleep for all but the last
// 1.5 ms (Go timers are only about that precise), then a spin. Spinning
// keeps the producer on time to well under a µs, at the price of a core;
// a nanosleep with 1 ns timer slack was tried and made the producer late by
// tens of µs on a loaded machine, which the intended-time latency then
// charged to the log.
func sleepUntil(t int64, yield bool) {
	if d := t - mono() - 1500_000; d > 0 {
		time.Sleep(time.Duration(d))
	}
	if yield {
		yieldUntil(t)
	} else {
		spinUntil(t)
	}
}

// makeValue returns message i: size bytes of printable ASCII without quote
// or backslash, so that as a JSON string ("...") it is size+2 bytes.
func makeValue(i, size int) string {
	head := "m" + strconv.Itoa(i) + ":"
	if size <= len(head) {
		return head[:max(size, 1)]
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(head)
	for b.Len() < size {
		b.WriteByte('a' + byte((b.Len()+i)%26))
	}
	return b.String()
}

// jsonPayload is the JSON form of a value, as the reference log stores it.
func jsonPayload(v string) []byte {
	b := make([]byte, 0, len(v)+2)
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameRecord frames payload exactly as ref does (RS {"t":T,"c":"C","v":P}
// LF), for the raw-limit loops: the same bytes without the library.
func frameRecord(ts int64, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+47)
	b = append(b, "\x1e{\"t\":"...)
	b = append(b, fmt.Sprintf("%019d", ts)...)
	crc := crc32.Update(0, castagnoli, b[6:25])
	crc = crc32.Update(crc, castagnoli, []byte{'v'})
	crc = crc32.Update(crc, castagnoli, payload)
	b = append(b, fmt.Sprintf(",\"c\":\"%08x\",\"v\":", crc)...)
	b = append(b, payload...)
	return append(b, '}', '\n')
}

// parseDuration accepts Go durations and a bare number of µs.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * 1e3), nil
	}
	return 0, fmt.Errorf("bad duration %q", s)
}

// slowAppend is the per-append delay added by KLBENCH_SLOW_APPEND, to prove
// the gate catches a regression. Zero normally.
func slowAppend() (time.Duration, error) {
	return parseDuration(os.Getenv("KLBENCH_SLOW_APPEND"))
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }
func us(ns int64) float64 { return float64(ns) / 1e3 }

// shellJoin quotes args for a POSIX shell: words of safe characters stay
// bare, others go in single quotes.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		safe := a != ""
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
				safe = false
				break
			}
		}
		if safe {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
