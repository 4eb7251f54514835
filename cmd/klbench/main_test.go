package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/bench"
)

// TestMain lets the test binary stand in for klbench when it re-executes
// itself (adapter, produce-worker).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && bench.IsSubcommand(os.Args[1]) {
		os.Exit(realMain(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := realMain(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// -h and --help print the usage on stdout and exit 0; the usage names
// every flag one way, --flag, within 80 columns.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		code, out, errs := run(arg)
		assert.Equal(t, 0, code, arg)
		assert.Empty(t, errs, arg)
		assert.True(t, strings.HasPrefix(out, "usage: klbench"), "%s: %q", arg, out)
		for _, f := range []string{"--impl", "--native", "--only", "--reps", "--out DIR", "--out-exact DIR", "--gate FILE", "--write-baseline", "--quiet"} {
			assert.Contains(t, out, f, arg)
		}
		for _, line := range strings.Split(out, "\n") {
			assert.LessOrEqual(t, len([]rune(line)), 80, "line too wide: %q", line)
		}
		// Single-dash flags appear only as the short forms -h and -q.
		for _, m := range regexp.MustCompile(`(?:^|[\s,(])-[a-z][a-z-]*`).FindAllString(out, -1) {
			m = strings.TrimLeft(m, " \t\n,(")
			assert.Contains(t, []string{"-h", "-q"}, m, "single-dash flag in the usage")
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "--nope"},
		{[]string{"--reps", "0"}, "--reps"},
		{[]string{"--count", "many"}, "--count"},
		{[]string{"--rate", "-5"}, "--rate"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"--wait", "sleep"}, "--wait"},
		{[]string{"--only", "bogus"}, "unknown experiment"},
		{[]string{"--only", ""}, "no experiment"},
	} {
		code, out, errs := run(tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, out, "%v", tc.args)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
	_, _, errs := run("--nope")
	assert.Contains(t, errs, "klbench --help")
}

// The flags land in bench.Options.
func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want func(o *bench.Options) bool
	}{
		{nil, func(o *bench.Options) bool {
			return o.Reps == 0 && o.Count == 0 && o.Only == nil && o.Scale == bench.ScaleAuto
		}},
		{[]string{"--impl", "ref", "--impl", "py=python3 x.py", "--native", "n=drv"}, func(o *bench.Options) bool {
			return strings.Join(o.Impls, "|") == "ref|py=python3 x.py" && strings.Join(o.Natives, "|") == "n=drv"
		}},
		{[]string{"--only", " process , cli"}, func(o *bench.Options) bool { return strings.Join(o.Only, ",") == "process,cli" }},
		{[]string{"--reps", "9", "--count", "500", "--size", "200", "--rate", "2000"}, func(o *bench.Options) bool {
			return o.Reps == 9 && o.Count == 500 && o.Size == 200 && o.Rate == 2000
		}},
		{[]string{"--scale"}, func(o *bench.Options) bool { return o.Scale == bench.ScaleOn }},
		{[]string{"--scale", "--no-scale"}, func(o *bench.Options) bool { return o.Scale == bench.ScaleOff }},
		{[]string{"-q"}, func(o *bench.Options) bool { return o.Quiet }},
		{[]string{"--quiet"}, func(o *bench.Options) bool { return o.Quiet }},
		{[]string{"--out", "d"}, func(o *bench.Options) bool { return o.Out == "d" && o.OutExact == "" }},
		{[]string{"--out-exact", "reports/ref"}, func(o *bench.Options) bool { return o.OutExact == "reports/ref" }},
		{[]string{"--gate", "b.json", "--write-baseline"}, func(o *bench.Options) bool { return o.Gate == "b.json" && o.WriteBaseline }},
	} {
		o, err := parseFlags(tc.args)
		require.NoError(t, err, "%v", tc.args)
		assert.True(t, tc.want(o), "%v: %+v", tc.args, o)
		assert.Equal(t, tc.args, o.Args)
	}
}

// A real, small run through the command: the tables on stdout, within
// 120 columns, progress silenced by -q.
func TestSmallRun(t *testing.T) {
	code, out, errs := run("--only", "produce,e2e", "--count", "200", "--reps", "2", "--rate", "2000", "-q")
	require.Equal(t, 0, code, errs)
	assert.Empty(t, errs)
	assert.Regexp(t, `(?m)^produce +ref +[0-9.]+ ms`, out)
	assert.Contains(t, out, "e2e@2k/s inotify p50")
	for _, line := range strings.Split(out, "\n") {
		assert.LessOrEqual(t, len([]rune(line)), 120, "line too wide: %q", line)
	}
	code, _, errs = run("--only", "produce", "--count", "200", "--reps", "1")
	require.Equal(t, 0, code)
	assert.Contains(t, errs, "produce", "progress goes to stderr without -q")
}
