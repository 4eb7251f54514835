package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// splitLines is lineReader's model: an LF ends a line, a CR before it
// is dropped, a last line needs no LF, and a line of more than max bytes
// before its LF is bufio.ErrTooLong.
func splitLines(in []byte, max int) ([]string, error) {
	var out []string
	for len(in) > 0 {
		line := in
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			line, in = in[:i], in[i+1:]
		} else {
			in = nil
		}
		if len(line) > max {
			return out, bufio.ErrTooLong
		}
		out = append(out, string(bytes.TrimSuffix(line, []byte("\r"))))
	}
	return out, nil
}

// scanLines is what bufio.Scanner, which klref produce used before
// lineReader, makes of in.
func scanLines(in []byte) []string {
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(make([]byte, 16), len(in)+16)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// readLines is what lineReader makes of in, read a byte at a time or not;
// quoted lines are checked against appendJSONString and unquoted.
func readLines(t *testing.T, in []byte, max int, oneByte bool) ([]string, error) {
	var r io.Reader = bytes.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	l := newLineReader(r, max)
	var out []string
	for l.next() {
		line := string(l.line)
		if q, ok := l.quote(); ok {
			require.Equal(t, string(appendJSONString(nil, []byte(line))), string(q))
			var s string
			require.NoError(t, json.Unmarshal(q, &s))
			line = s
		}
		out = append(out, line)
	}
	return out, l.err
}

func TestLineReaderMatchesScanner(t *testing.T) {
	long := strings.Repeat("x", 70<<10) // longer than the first buffer
	cases := map[string]string{
		"empty":           "",
		"one":             "a line of plain ascii text\n",
		"no final LF":     "first line of plain text\nsecond line of plain text",
		"CRLF":            "a line of plain ascii text\r\nanother line of plain text\r\n",
		"CR last":         "a line of plain ascii text\r",
		"empty lines":     "\n\n\nthe fourth line of the input\n\n",
		"needs escapes":   "a \"quoted\" line <with> html & a tab\t\nplain enough line here!!\n",
		"utf-8":           "a line with é and ✓ in it, long enough\n",
		"short":           "a\nbc\n",
		"long line":       long + "\nafter the long line, plain text\n",
		"long, no LF":     "a line of plain ascii text\n" + long,
		"many":            strings.Repeat("0123456789abcdefghij klmnopqrstuvwxyz\n", 5000),
		"CR mid-line":     "a line with a \r in its middle, long\n",
		"quote on LF pos": "0123456789abcdef\n0123456789abcdef\n0123456789abcdef",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			want, werr := splitLines([]byte(in), 1<<20)
			require.Equal(t, scanLines([]byte(in)), want, "the model is not bufio.Scanner")
			for _, oneByte := range []bool{false, true} {
				got, err := readLines(t, []byte(in), 1<<20, oneByte)
				require.Equal(t, werr, err)
				require.Equal(t, want, got)
			}
		})
	}
}

func TestLineReaderTooLong(t *testing.T) {
	in := []byte("short line\n" + strings.Repeat("y", 1000) + "\nlater\n")
	got, err := readLines(t, in, 999, false)
	require.ErrorIs(t, err, bufio.ErrTooLong)
	require.Equal(t, []string{"short line"}, got)
	got, err = readLines(t, in, 1000, false)
	require.NoError(t, err)
	require.Len(t, got, 3)
}

// FuzzLineReader checks lineReader against bufio.Scanner on any input.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a line of plain ascii text\r\nb\n\nlast"), uint16(100))
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		want, werr := splitLines(in, int(max))
		if werr == nil && len(want) > 0 {
			require.Equal(t, scanLines(in), want, "the model is not bufio.Scanner")
		}
		got, err := readLines(t, in, int(max), false)
		require.Equal(t, werr, err)
		require.Equal(t, want, got)
	})
}
