package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/ref"
	"golang.org/x/sys/unix"
)

// The tests run klref as real processes: the test binary re-executed with
// KLREF_TEST_MAIN=1 runs main, exactly as the klref binary does.
// KLREF_TEST_FSIZE sets the process's RLIMIT_FSIZE first.
func TestMain(m *testing.M) {
	if os.Getenv("KLREF_TEST_MAIN") == "1" {
		if s := os.Getenv("KLREF_TEST_FSIZE"); s != "" {
			n, _ := strconv.ParseUint(s, 10, 64)
			if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				os.Exit(3)
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// klrefCmd is klref with args, as a process.
func klrefCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KLREF_TEST_MAIN=1")
	return cmd
}

// klref runs klref with stdin and returns its exit status and output.
func klref(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := klrefCmd(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return exitCodeOf(t, cmd.Run()), out.String(), errb.String()
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run klref: %v", err)
	return -1
}

// tree lists every path under dir, or "(none)" if dir does not exist.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var paths []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return "(none)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(paths, "\n")
}

// Reading a topic that does not exist is an error (exit 2) that names it,
// and creates nothing: no directory, no chunk, no control file.
func TestReadersCreateNothing(t *testing.T) {
	base := t.TempDir()
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(base, "typo")
	for _, tc := range []struct {
		name string
		args []string
		dir  string // must look the same afterwards
	}{
		{"consume, no dir", []string{"consume", "--dir", typo, "--topic", "t"}, typo},
		{"consume, no topic", []string{"consume", "--dir", empty, "--topic", "t"}, empty},
		{"consume --follow, no topic", []string{"consume", "--dir", empty, "--topic", "t", "--follow"}, empty},
		{"consume --group, no topic", []string{"consume", "--dir", empty, "--topic", "t", "--group", "g"}, empty},
		{"inspect, no dir", []string{"inspect", "--dir", typo, "--topic", "t"}, typo},
		{"inspect, no topic", []string{"inspect", "--dir", empty, "--topic", "t"}, empty},
		{"inspect --json, no topic", []string{"inspect", "--dir", empty, "--topic", "t", "--json"}, empty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tree(t, tc.dir)
			code, stdout, stderr := klref(t, "", tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if want := fmt.Sprintf("klref: no such topic %q in %s", "t", tc.dir); !strings.HasPrefix(stderr, want) {
				t.Errorf("stderr %q, want it to start with %q", stderr, want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if after := tree(t, tc.dir); after != before {
				t.Errorf("the directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// -h and --help print the usage on stdout and exit 0, for klref and for
// every command; the usage says what the exit statuses mean.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"", "produce", "consume", "inspect", "adapter"} {
		for _, h := range []string{"-h", "--help"} {
			args := []string{h}
			if cmd != "" {
				args = []string{cmd, h}
			}
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, stdout, stderr := klref(t, "", args...)
				if code != 0 || stderr != "" {
					t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
				}
				wants := []string{"usage:", "exit status: 0 ok; 1", "2 a usage error or no such topic"}
				if cmd == "adapter" {
					wants = []string{"usage: klref adapter", "exit status: 0 ok; 1", "2 a usage error"}
				}
				for _, want := range wants {
					if !strings.Contains(stdout, want) {
						t.Errorf("stdout lacks %q:\n%s", want, stdout)
					}
				}
				if cmd != "" && cmd != "adapter" && !strings.Contains(stdout, "-topic") {
					t.Errorf("stdout does not list the options:\n%s", stdout)
				}
			})
		}
	}
}

// Usage errors exit 2 and say what is wrong.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"produce", "--topic", "t"}, "--dir and --topic are required"},
		{[]string{"consume", "--dir", dir, "--topic", "t", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"consume", "--dir", dir, "--topic", "t", "--from", "soon"}, `--from "soon"`},
		{[]string{"inspect", "--dir", dir, "--topic", "t", "extra"}, `unexpected argument "extra"`},
		{[]string{"produce", "--dir", dir, "--topic", "../t"}, "topic"},
		{[]string{"produce", "--dir", dir, "--topic", "t", "--fsync", "sometimes"}, "sometimes"},
		{[]string{"adapter", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := klref(t, "", tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// What produce stores is what encoding/json made of each line, and
// consume prints each line back, decoded, raw, or with its offset.
func TestProduceConsume(t *testing.T) {
	lines := []string{"plain", `say "hi" \o/`, "tab\there", "<b>&amp;</b>", "héllo 日本 😀", "\u2028", "bad \xff byte", "",
		"a plain line long enough to be quoted where it lies", "another one, right after it, also plain", "last"}
	dir := t.TempDir()
	if code, _, stderr := klref(t, strings.Join(lines, "\n")+"\n", "produce", "--dir", dir, "--topic", "t"); code != 0 {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	chunk, err := os.ReadFile(filepath.Join(dir, "t", "00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	var decoded, rawOut, offsets strings.Builder
	for i, l := range lines {
		m, _ := json.Marshal(l)
		if !bytes.Contains(chunk, append(append([]byte(`,"v":`), m...), "}\n"...)) {
			t.Errorf("the chunk does not hold line %d as json.Marshal writes it, %s", i, m)
		}
		var back string
		_ = json.Unmarshal(m, &back)
		fmt.Fprintf(&decoded, "%s\n", back)
		fmt.Fprintf(&rawOut, "%s\n", m)
		fmt.Fprintf(&offsets, "%d\t%s\n", i, back)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"decoded", nil, decoded.String()},
		{"raw", []string{"--raw"}, rawOut.String()},
		{"offsets", []string{"--offsets"}, offsets.String()},
		{"from offset", []string{"--from", "7", "--offsets"}, "7\t\n8\t" + lines[8] + "\n9\t" + lines[9] + "\n10\tlast\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := klref(t, "", append([]string{"consume", "--dir", dir, "--topic", "t"}, tc.args...)...)
			if code != 0 || stderr != "" {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
			if stdout != tc.want {
				t.Errorf("stdout\n%q\nwant\n%q", stdout, tc.want)
			}
		})
	}
	// --json stores each line as it is, and refuses a line that is not JSON.
	if code, _, stderr := klref(t, "{\"a\":1}\n[2]\n", "produce", "--dir", dir, "--topic", "j", "--json"); code != 0 {
		t.Fatalf("produce --json: exit %d: %s", code, stderr)
	}
	if _, stdout, _ := klref(t, "", "consume", "--dir", dir, "--topic", "j"); stdout != "{\"a\":1}\n[2]\n" {
		t.Errorf("consume of --json lines: %q", stdout)
	}
	if code, _, stderr := klref(t, "1\nnot json\n", "produce", "--dir", dir, "--topic", "j", "--json"); code != 1 || !strings.Contains(stderr, "klref: line 2 is not valid JSON") {
		t.Errorf("invalid JSON line: exit %d, stderr %q", code, stderr)
	}
}

// klref produce ends lines as bufio.Scanner does (a CR before the LF is
// dropped, the last line needs no LF), and stamps each record with a time
// within the run.
func TestProduceLineEndingsAndTimes(t *testing.T) {
	dir := t.TempDir()
	before := time.Now().UnixNano()
	in := "a CRLF line, long enough to quote\r\nshort\r\nplain line with no CR at all\nno final newline, long enough"
	if code, _, stderr := klref(t, in, "produce", "--dir", dir, "--topic", "t"); code != 0 {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	after := time.Now().UnixNano()
	_, stdout, _ := klref(t, "", "consume", "--dir", dir, "--topic", "t")
	want := "a CRLF line, long enough to quote\nshort\nplain line with no CR at all\nno final newline, long enough\n"
	if stdout != want {
		t.Errorf("consume printed %q, want %q", stdout, want)
	}
	tp, err := ref.Open(dir, "t", ref.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	c, err := tp.NewConsumer(ref.ConsumerOptions{From: ref.FromEarliest, Wait: ref.WaitPoll})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recs, err := c.TryPoll(10)
	if err != nil || len(recs) != 4 {
		t.Fatalf("read %d records: %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Time < before || r.Time > after {
			t.Errorf("record %d has time %d, outside the run's %d to %d", r.Offset, r.Time, before, after)
		}
	}
}

// A group consumer acks what it printed and resumes after it.
func TestConsumeGroupResumes(t *testing.T) {
	dir := t.TempDir()
	klref(t, "a\nb\n", "produce", "--dir", dir, "--topic", "t")
	if _, stdout, _ := klref(t, "", "consume", "--dir", dir, "--topic", "t", "--group", "g"); stdout != "a\nb\n" {
		t.Fatalf("first consume: %q", stdout)
	}
	klref(t, "c\n", "produce", "--dir", dir, "--topic", "t")
	if _, stdout, _ := klref(t, "", "consume", "--dir", dir, "--topic", "t", "--group", "g", "--offsets"); stdout != "2\tc\n" {
		t.Errorf("resumed consume: %q", stdout)
	}
}

// writeTopic produces n lines "line-I" to DIR/t and returns the chunk's
// path.
func writeTopic(t *testing.T, dir string, n int) string {
	t.Helper()
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "line-%d\n", i)
	}
	if code, _, stderr := klref(t, in.String(), "produce", "--dir", dir, "--topic", "t"); code != 0 {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	return filepath.Join(dir, "t", "00000000000000000000.log")
}

// corrupt changes one payload byte of the record holding value, so that
// its CRC fails.
func corrupt(t *testing.T, chunk, value string) {
	t.Helper()
	b, err := os.ReadFile(chunk)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"`+value+`"`))
	if i < 0 {
		t.Fatalf("%q not in the chunk", value)
	}
	b[i+1] ^= 0x01
	if err := os.WriteFile(chunk, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var damageLine = regexp.MustCompile(`(?m)^klref: log damaged: [1-9][0-9]* problems? \(above\); every intact record was delivered with its offset$`)

// consume reports each problem on stderr. Damage (a corrupt record) makes
// it exit 1 after delivering every intact record; a torn record (a killed
// producer's fragment) is reported and is not damage.
func TestConsumeReportsDamage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spoil    func(t *testing.T, dir, chunk string)
		code     int
		problem  string // a regexp of the problem's line on stderr
		damaged  bool
		wantLine []int // the lines delivered
	}{
		{"intact", func(*testing.T, string, string) {}, 0, "", false, []int{0, 1, 2, 3, 4}},
		{"corrupt record", func(t *testing.T, _, chunk string) { corrupt(t, chunk, "line-2") }, 1, "corrupt|missing|damaged", true, []int{0, 1, 3, 4}},
		{"torn record", func(t *testing.T, dir, chunk string) {
			f, err := os.OpenFile(chunk, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("\x1e{\"t\":17325408") // a producer killed mid-write
			f.Close()
			if code, _, stderr := klref(t, "line-5\n", "produce", "--dir", dir, "--topic", "t"); code != 0 {
				t.Fatalf("produce: exit %d: %s", code, stderr)
			}
		}, 0, "torn", false, []int{0, 1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.spoil(t, dir, writeTopic(t, dir, 5))
			code, stdout, stderr := klref(t, "", "consume", "--dir", dir, "--topic", "t")
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			var want strings.Builder
			for _, i := range tc.wantLine {
				fmt.Fprintf(&want, "line-%d\n", i)
			}
			if stdout != want.String() {
				t.Errorf("stdout %q, want %q", stdout, want.String())
			}
			if tc.problem != "" && !regexp.MustCompile(`(?m)^klref: chunk 0 .*(`+tc.problem+`)`).MatchString(stderr) {
				t.Errorf("stderr does not report the %s record:\n%s", tc.problem, stderr)
			}
			if tc.problem == "" && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			if got := damageLine.MatchString(stderr); got != tc.damaged {
				t.Errorf("damage summary printed: %v, want %v:\n%s", got, tc.damaged, stderr)
			}
		})
	}
}

// consume --follow stopped by SIGTERM or SIGINT still says the log was
// damaged, and exits 1; without damage it exits 0.
func TestFollowStoppedReportsDamage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damaged bool
		sig     syscall.Signal
		code    int
	}{
		{"intact, SIGTERM", false, syscall.SIGTERM, 0},
		{"intact, SIGINT", false, syscall.SIGINT, 0},
		{"damaged, SIGTERM", true, syscall.SIGTERM, 1},
		{"damaged, SIGINT", true, syscall.SIGINT, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			chunk := writeTopic(t, dir, 5)
			if tc.damaged {
				corrupt(t, chunk, "line-1")
			}
			cmd := klrefCmd("consume", "--dir", dir, "--topic", "t", "--follow")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Every intact record is printed before it waits.
			got := make([]byte, len("line-4\n"))
			var all []byte
			for !bytes.HasSuffix(all, []byte("line-4\n")) {
				n, err := out.Read(got)
				if err != nil {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("read stdout after %q: %v; stderr: %s", all, err, errb.String())
				}
				all = append(all, got[:n]...)
			}
			cmd.Process.Signal(tc.sig)
			rest, _ := io.ReadAll(out)
			code := exitCodeOf(t, cmd.Wait())
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
			if len(rest) > 0 {
				t.Errorf("printed %q after the signal", rest)
			}
			if got := damageLine.MatchString(errb.String()); got != tc.damaged {
				t.Errorf("damage summary printed: %v, want %v:\n%s", got, tc.damaged, errb.String())
			}
		})
	}
}

// An append that fails (here past RLIMIT_FSIZE: the control file takes 4 KiB of it) stops produce with
// exit 1 and an error that names the line; the lines before it are in the
// log, and nothing after.
func TestProduceFailedAppendNamesLine(t *testing.T) {
	dir := t.TempDir()
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, "line-%03d-%s\n", i, strings.Repeat("x", 40))
	}
	cmd := klrefCmd("produce", "--dir", dir, "--topic", "t")
	cmd.Env = append(cmd.Env, "KLREF_TEST_FSIZE=6000")
	cmd.Stdin = strings.NewReader(in.String())
	var errb bytes.Buffer
	cmd.Stderr = &errb
	code := exitCodeOf(t, cmd.Run())
	m := regexp.MustCompile(`^klref: line ([0-9]+): append to t .*(file size limit|file too large)`).FindStringSubmatch(errb.String())
	if code != 1 || m == nil {
		t.Fatalf("exit %d, stderr %q; want 1 and klref: line N: append to t ... file size limit", code, errb.String())
	}
	n, _ := strconv.Atoi(m[1])
	if n < 2 || n > 100 {
		t.Fatalf("failed at line %d", n)
	}
	// The failed line's bytes that were written are a torn fragment, which
	// consume reports but does not count as damage.
	code, stdout, stderr := klref(t, "", "consume", "--dir", dir, "--topic", "t")
	if code != 0 {
		t.Errorf("consume: exit %d: %s", code, stderr)
	}
	if got := strings.Count(stdout, "\n"); got != n-1 {
		t.Errorf("the log holds %d lines, want the %d before line %d", got, n-1, n)
	}
}

// A signal stops produce between appends, even while it waits for stdin,
// and the lines read before it are in the log.
func TestProduceStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := klrefCmd("produce", "--dir", dir, "--topic", "t")
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			fmt.Fprintf(in, "one\ntwo\n")
			chunk := filepath.Join(dir, "t", "00000000000000000000.log")
			for {
				// Each line is in the log as soon as it is read.
				if b, _ := os.ReadFile(chunk); bytes.Contains(b, []byte(`"two"`)) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			if code := exitCodeOf(t, cmd.Wait()); code != 0 || errb.Len() > 0 {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errb.String())
			}
			if _, stdout, _ := klref(t, "", "consume", "--dir", dir, "--topic", "t"); stdout != "one\ntwo\n" {
				t.Errorf("the log holds %q", stdout)
			}
		})
	}
}

// klref serves only the reference: it must not link the engine adapters'
// clients (NATS, Kafka), which klcheck and klbench register.
func TestNoEngineLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "internal/engine") || strings.Contains(dep, "nats-io") || strings.Contains(dep, "franz-go") {
			t.Errorf("klref links %s", dep)
		}
	}
}
