package impl

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

func TestResolve(t *testing.T) {
	const self = "/usr/bin/klcheck"
	RegisterEngine("testeng", Engine{Check: func(url string) error {
		if strings.Contains(url, "bad") {
			return errors.New("bad host")
		}
		return nil
	}})
	for _, tc := range []struct {
		spec string
		want []string // nil: an error
		err  string
	}{
		{"", []string{self, "adapter"}, ""},
		{" ref ", []string{self, "adapter"}, ""},
		{"ref:no-sync", []string{self, "adapter", "--mutant", "no-sync"}, ""},
		{`sh -c 'echo "a b"'`, []string{"sh", "-c", `echo "a b"`}, ""},
		{"testeng://h:1", []string{self, "adapter", "--engine", "testeng://h:1"}, ""},
		{"ref:", nil, "want ref:MUTANT"},
		{"ref:a b", nil, "want ref:MUTANT"},
		{"testeng://bad:1", nil, "bad host"},
		{"nosuch://localhost:4222", nil, "no engine adapter for nosuch://"},
		{"/no/such/impl --flag", nil, "cannot run /no/such/impl"},
		{`sh -c 'unclosed`, nil, "EOF"},
		{"   ", []string{self, "adapter"}, ""},
	} {
		got, err := Resolve(tc.spec, self)
		if tc.want == nil {
			if assert.Error(t, err, "%q", tc.spec) {
				assert.Contains(t, err.Error(), tc.err, "%q", tc.spec)
			}
			continue
		}
		if !assert.NoError(t, err, "%q", tc.spec) {
			continue
		}
		if tc.want[0] == "sh" {
			assert.True(t, strings.HasSuffix(got[0], "/sh"), "%q: %q", tc.spec, got)
			got[0] = "sh" // wherever PATH found it
		}
		assert.True(t, slices.Equal(got, tc.want), "%q: %q, want %q", tc.spec, got, tc.want)
	}
	assert.True(t, IsEngine("testeng://h:1"))
	assert.False(t, IsEngine("nosuch://h:1"))
	assert.False(t, IsEngine("python3 a.py"))
	assert.True(t, IsRef("ref:x"))
	assert.False(t, IsRef("refx"))
}

// adapter runs Adapter on in and returns its exit status and outputs.
func adapter(t *testing.T, in string, args []string, extras ...Extra) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Adapter(context.Background(), "kltest adapter", args, strings.NewReader(in), &out, &errb, extras...)
	return code, out.String(), errb.String()
}

func TestAdapterFlags(t *testing.T) {
	code, out, errs := adapter(t, "", []string{"-h"})
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, out, "usage: kltest adapter")
	assert.Contains(t, out, "-mutant")
	assert.Empty(t, errs)

	code, out, errs = adapter(t, "", []string{"--nosuch"})
	assert.Equal(t, ExitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errs, "flag provided but not defined: -nosuch")
	assert.Equal(t, 1, strings.Count(errs, "not defined"), "one message, not two: %s", errs)

	code, _, errs = adapter(t, "", []string{"extra"})
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, `unexpected argument "extra"`)
}

// TestAdapterEngines: --engine serves only what the binary registered, and
// says so when it registered nothing for the scheme.
func TestAdapterEngines(t *testing.T) {
	code, _, errs := adapter(t, "", []string{"--engine", "none://h:1"})
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "none://")

	served := ""
	RegisterEngine("echoeng", Engine{Serve: func(_ context.Context, url string, in io.Reader, out io.Writer) error {
		served = url
		_, err := io.Copy(out, in)
		return err
	}})
	code, out, errs := adapter(t, "hello", []string{"--engine", "echoeng://h:1"})
	assert.Equal(t, ExitOK, code, errs)
	assert.Equal(t, "echoeng://h:1", served)
	assert.Equal(t, "hello", out)
}

func TestAdapterExtra(t *testing.T) {
	called := false
	x := Extra{Name: "null", Usage: "serve nothing", Handler: func() (protocol.Handler, error) {
		called = true
		return nil, errors.New("no handler here")
	}}
	code, _, errs := adapter(t, "", []string{"--null"}, x)
	assert.True(t, called)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "no handler here")

	called = false
	code, _, _ = adapter(t, "", nil, x)
	require.False(t, called, "an extra runs only when its flag is given")
	assert.Equal(t, ExitOK, code, "the reference serves an empty stdin and exits")
}
