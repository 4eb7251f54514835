package ref

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestFrameGolden(t *testing.T) {
	var b bytes.Buffer
	b.Write(appendFrame(nil, kindHeader, 1732540800000000000, []byte(`{"chunk":7,"base":1234}`)))
	b.Write(appendFrame(nil, kindData, 1732540800123456789, []byte(`{"msg":"hello"}`)))
	b.Write(appendFrame(nil, kindData, 1732540800123456790, []byte(`"a string"`)))
	b.Write(appendFrame(nil, kindSeal, 1732540800200000000, []byte(`{"chunk":7}`)))
	golden := filepath.Join("testdata", "chunk.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), b.String(), "the on-disk format changed; docs/FORMAT.md must change with it")
}

func TestScanOne(t *testing.T) {
	rec := appendFrame(nil, kindData, 42, []byte(`"v"`))
	other := appendFrame(nil, kindData, 43, []byte(`"w"`))
	corrupt := bytes.Clone(rec)
	corrupt[len(corrupt)-3] = 'x'
	for _, tc := range []struct {
		name    string
		in      []byte
		step    scanStep
		n       int
		problem string
	}{
		{"empty", nil, stepPartial, 0, ""},
		{"whole record", rec, stepRecord, len(rec), ""},
		{"record then more", append(bytes.Clone(rec), other...), stepRecord, len(rec), ""},
		{"torn tail: wait", rec[:len(rec)-1], stepPartial, 0, ""},
		{"torn tail cut at 1 byte", rec[:1], stepPartial, 0, ""},
		{"fragment then record", append(bytes.Clone(rec[:20]), other...), stepSkip, 20, ProblemTorn},
		{"fragment missing only LF, then record", append(bytes.Clone(rec[:len(rec)-1]), other...), stepSkip, len(rec) - 1, ProblemTorn},
		{"corrupt byte", corrupt, stepSkip, len(corrupt), ProblemCorrupt},
		{"garbage then record", append([]byte("xyz\n"), other...), stepSkip, 4, ProblemCorrupt},
		{"garbage without marker: wait", []byte("xyz"), stepPartial, 0, ""},
		{"short line", []byte("\x1e{}\n"), stepSkip, 4, ProblemCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, n, _, problem, _ := scanOne(tc.in)
			require.Equal(t, tc.step, step)
			require.Equal(t, tc.n, n)
			require.Equal(t, tc.problem, problem)
		})
	}
	_, _, fr, _, _ := scanOne(rec)
	require.Equal(t, frame{kind: kindData, ts: 42, payload: []byte(`"v"`)}, fr)
}

// FuzzScan feeds arbitrary bytes to the decoder: it must never panic, never
// report a step that does not advance (except partial), and every record it
// accepts must re-encode to exactly the bytes it came from.
func FuzzScan(f *testing.F) {
	f.Add(appendFrame(nil, kindData, 1, []byte(`"x"`)))
	f.Add(append(appendFrame(nil, kindData, 1, []byte(`"x"`))[:9], appendFrame(nil, kindSeal, 2, []byte(`{}`))...))
	f.Add([]byte("\x1e{\"t\":0000000000000000001,\"c\":\"00000000\",\"v\":1}\n"))
	f.Add([]byte("garbage\x1e\n"))
	f.Add(appendFrame(nil, kindData, 1, []byte("\"a\x1eb\""))) // a right CRC over an RS
	f.Fuzz(func(t *testing.T, data []byte) {
		for p := 0; p < len(data); {
			step, n, fr, _, _ := scanOne(data[p:])
			// The read path's shortcut agrees with scanOne wherever it
			// takes a record.
			if ts, wn := wholeData(data[p:]); wn > 0 && (step != stepRecord || fr.kind != kindData || n != wn || fr.ts != ts) {
				t.Fatalf("at %d: wholeData took %d bytes (time %d), scanOne says step %d, %d bytes, kind %q, time %d", p, wn, ts, step, n, fr.kind, fr.ts)
			}
			if step == stepPartial {
				return
			}
			if n <= 0 {
				t.Fatalf("step %d at %d does not advance", step, p)
			}
			if step == stepRecord {
				again := appendFrame(nil, fr.kind, fr.ts, fr.payload)
				if !bytes.Equal(again, data[p:p+n]) {
					t.Fatalf("accepted %q, which re-encodes as %q", data[p:p+n], again)
				}
			}
			p += n
		}
	})
}

// TestSWARFields checks the eight-bytes-at-a-time field parsers against
// the obvious ones: every byte value in every position for the digit
// check, and many values for the conversions.
func TestSWARFields(t *testing.T) {
	load := func(s string) uint64 { return binary.LittleEndian.Uint64([]byte(s)) }
	for pos := range 8 {
		for c := range 256 {
			b := []byte("12345678")
			b[pos] = byte(c)
			want := c >= '0' && c <= '9'
			require.Equal(t, want, eightDigits(binary.LittleEndian.Uint64(b)), "byte %d = %#x", pos, c)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		n := rng.Uint64N(100_000_000)
		require.Equal(t, n, parseEight(load(fmt.Sprintf("%08d", n))))
		crc := rng.Uint32()
		require.Equal(t, load(fmt.Sprintf("%08x", crc)), hexEight(crc))
	}
	for _, crc := range []uint32{0, 0xffffffff, 0x0a0b0c0d, 0x99999999, 0xaaaaaaaa} {
		require.Equal(t, load(fmt.Sprintf("%08x", crc)), hexEight(crc))
	}
	// The whole timestamp, at its extremes.
	for _, ts := range []int64{0, 1, 999, 1764633600123456789, 9223372036854775807} {
		fr, err := parseFrame(appendFrame(nil, kindData, ts, []byte(`1`)))
		require.NoError(t, err)
		require.Equal(t, ts, fr.ts)
	}
}

// TestWholeDataTakesEveryValidRecord checks the read path's shortcut on
// valid data records of every payload length around its steps and its
// shortCRC cut-over: alone, followed by another record, and cut short
// (which it must leave to scanOne).
func TestWholeDataTakesEveryValidRecord(t *testing.T) {
	next := appendFrame(nil, kindData, 7, []byte(`"next"`))
	for n := 1; n <= shortCRC+20; n++ {
		payload := append(append([]byte{'"'}, bytes.Repeat([]byte("p"), n-1)...), '"')[:n]
		if n == 1 {
			payload = []byte("1")
		}
		rec := appendFrame(nil, kindData, 1234567890123456789, payload)
		for _, buf := range [][]byte{rec, append(bytes.Clone(rec), next...)} {
			ts, got := wholeData(buf)
			require.Equal(t, len(rec), got, "payload of %d bytes", n)
			require.Equal(t, int64(1234567890123456789), ts)
		}
		for cut := 1; cut < len(rec); cut += 7 {
			_, got := wholeData(rec[:cut])
			require.Zero(t, got, "payload of %d bytes cut at %d", n, cut)
		}
	}
}

// TestAppendFrameChecked checks the one-pass append against checkPayload
// and appendFrame: for payloads of every length up to 40 bytes and around
// shortCRC, plain or with an LF or an RS at each position, it appends the
// same record or refuses, leaving dst as it was.
func TestAppendFrameChecked(t *testing.T) {
	lengths := []int{}
	for n := 1; n <= 40; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, shortCRC-2, shortCRC-1, shortCRC, shortCRC+1)
	prefix := []byte("earlier records")
	for _, n := range lengths {
		base := bytes.Repeat([]byte("p"), n)
		cases := [][]byte{base}
		for pos := range n {
			for _, b := range []byte{'\n', recordStart} {
				c := bytes.Clone(base)
				c[pos] = b
				cases = append(cases, c)
			}
		}
		var hc headCache
		for i, pl := range cases {
			ts := int64(1234567890123456789 + i/3) // the cache hits and misses
			cache := &hc
			if i%5 == 0 {
				cache = nil
			}
			got, ok := appendFrameChecked(bytes.Clone(prefix), kindData, ts, pl, cache)
			if err := checkPayload(pl, 0); err != nil {
				require.False(t, ok, "payload %q", pl)
				require.Equal(t, prefix, got)
				continue
			}
			require.True(t, ok, "payload %q", pl)
			require.Equal(t, appendFrame(bytes.Clone(prefix), kindData, ts, pl), got)
		}
	}
}
