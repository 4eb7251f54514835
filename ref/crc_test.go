package ref

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// checksumOf is the frame CRC by its definition: CRC-32C of the time
// digits, the kind byte and the payload, concatenated.
func checksumOf(ts []byte, kind byte, payload []byte) uint32 {
	all := append(append(append([]byte(nil), ts...), kind), payload...)
	return crc32.Checksum(all, crc32.MakeTable(crc32.Castagnoli))
}

// TestFrameCRC checks frameCRC, frameCRCGeneric and (where the CPU has
// it) frameCRCSSE42 against the definition, for every payload length
// across the short/long cut-off and every offset of the payload in
// memory (the assembly loads unaligned words).
func TestFrameCRC(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, shortCRC+64+8)
	for i := range buf {
		buf[i] = byte(r.UintN(256))
	}
	ts := []byte("1796245298985250430")
	for _, kind := range []byte{kindData, kindHeader, kindSeal, 0, 0xff} {
		for n := 0; n <= shortCRC+64; n++ {
			for align := range 8 {
				p := buf[align : align+n]
				want := checksumOf(ts, kind, p)
				if got := frameCRC(ts, kind, p); got != want {
					t.Fatalf("frameCRC(kind %q, %d bytes at +%d) = %08x, want %08x", kind, n, align, got, want)
				}
				if got := frameCRCGeneric(ts, kind, p); got != want {
					t.Fatalf("frameCRCGeneric(kind %q, %d bytes at +%d) = %08x, want %08x", kind, n, align, got, want)
				}
				if haveSSE42 {
					if got, rs := frameCRCSSE42(&ts[0], kind, p); got != want || rs != bytes.Contains(p, []byte{recordStart}) {
						t.Fatalf("frameCRCSSE42(kind %q, %d bytes at +%d) = %08x %v, want %08x", kind, n, align, got, rs, want)
					}
				}
			}
		}
	}
}

// TestFrameCRCKnown pins the CRC of the first data record of
// docs/FORMAT.md's example, so that a change of what the CRC covers
// cannot pass as a change of how it is computed.
func TestFrameCRCKnown(t *testing.T) {
	line := appendFrame(nil, kindData, 1796245298985250430, []byte(`"hello"`))
	fr, err := parseFrame(line)
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	want := checksumOf([]byte("1796245298985250430"), kindData, []byte(`"hello"`))
	if got := string(line[crcAt : crcAt+8]); got != sprintfHex(want) {
		t.Fatalf("stored CRC %s, want %s", got, sprintfHex(want))
	}
	if string(fr.payload) != `"hello"` {
		t.Fatalf("payload %q", fr.payload)
	}
}

func sprintfHex(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}

// FuzzFrameCRC compares frameCRC with the definition on any input.
func FuzzFrameCRC(f *testing.F) {
	f.Add([]byte("1796245298985250430"), byte('v'), []byte(`"x"`))
	f.Add([]byte("0000000000000000000"), byte('s'), []byte(`{"chunk":1}`))
	f.Fuzz(func(t *testing.T, ts []byte, kind byte, payload []byte) {
		if len(ts) != tsDigits {
			return
		}
		if got, want := frameCRC(ts, kind, payload), checksumOf(ts, kind, payload); got != want {
			t.Fatalf("frameCRC = %08x, want %08x", got, want)
		}
	})
}

func BenchmarkFrameCRC(b *testing.B) {
	ts := []byte("1796245298985250430")
	p := make([]byte, 100)
	b.Run("sse42", func(b *testing.B) {
		if !haveSSE42 {
			b.Skip("no SSE4.2")
		}
		for b.Loop() {
			frameCRCSSE42(&ts[0], kindData, p)
		}
	})
	b.Run("hash-crc32", func(b *testing.B) {
		for b.Loop() {
			frameCRCGeneric(ts, kindData, p)
		}
	})
}

// TestAppendFrameTime checks the time digits appendFrame writes against
// strconv for edge and random values, and that parseFrame reads back the
// time written; a clock before the epoch is written as 0.
func TestAppendFrameTime(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []int64{0, 1, 9, 10, 999, 1000, 99_999_999_999, 100_000_000_000, 1796245298985250430, 1<<63 - 1}
	for range 10000 {
		cases = append(cases, r.Int64(), r.Int64N(1e12), r.Int64N(1e4))
	}
	for _, ts := range cases {
		line := appendFrame(nil, kindData, ts, []byte(`1`))
		want := strconv.FormatInt(ts, 10)
		want = strings.Repeat("0", tsDigits-len(want)) + want
		if got := string(line[tsAt : tsAt+tsDigits]); got != want {
			t.Fatalf("time %d written as %s, want %s", ts, got, want)
		}
		fr, err := parseFrame(line)
		if err != nil || fr.ts != ts {
			t.Fatalf("time %d read back as %d (%v)", ts, fr.ts, err)
		}
	}
	for _, ts := range []int64{-1, -1 << 63} {
		fr, err := parseFrame(appendFrame(nil, kindData, ts, []byte(`1`)))
		if err != nil || fr.ts != 0 {
			t.Fatalf("time %d read back as %d (%v), want 0", ts, fr.ts, err)
		}
	}
}

// TestFrameCheckRS checks the RS search of the CRC pass: an RS at every
// position of payloads of every length up to past the cut-off is found,
// and payloads of the bytes nearest it (0x1D, 0x1F, 0x9E, 0x00) hold none.
func TestFrameCheckRS(t *testing.T) {
	ts := []byte("1796245298985250430")
	for _, fill := range []byte{'a', 0x1d, 0x1f, 0x9e, 0x00, 0xff} {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 23, 24, 100, shortCRC - 1, shortCRC, shortCRC + 9} {
			p := bytes.Repeat([]byte{fill}, n)
			if _, rs := frameCheck(ts, kindData, p); rs {
				t.Fatalf("%d bytes of %#x: RS found where there is none", n, fill)
			}
			for pos := range n {
				q := bytes.Clone(p)
				q[pos] = recordStart
				crc, rs := frameCheck(ts, kindData, q)
				if !rs {
					t.Fatalf("%d bytes of %#x, RS at %d: not found", n, fill, pos)
				}
				if want := checksumOf(ts, kindData, q); crc != want {
					t.Fatalf("%d bytes of %#x, RS at %d: crc %08x, want %08x", n, fill, pos, crc, want)
				}
			}
		}
	}
}

// TestCheckFrameRefusesRS: a line whose CRC is right but whose payload
// holds an RS (another writer's bytes, or a torn record with a whole one
// after it and a matching CRC) is not a record.
func TestCheckFrameRefusesRS(t *testing.T) {
	line := appendFrame(nil, kindData, 1, []byte("\"a\x1eb\""))
	if _, fault := checkFrame(line); fault != faultRS {
		t.Fatalf("checkFrame(%q) = fault %d, want faultRS", line, fault)
	}
	if _, err := parseFrame(line); err == nil || !strings.Contains(err.Error(), "RS") {
		t.Fatalf("parseFrame(%q) = %v, want an error naming the RS", line, err)
	}
}

// TestWholeDataMatchesLong checks the one-pass record check against
// wholeDataLong (a search for the LF, then checkFrame): for payloads of
// every length up to 40 bytes with an LF, an RS or a '}' at every position
// (their CRC right, so that only the framing can refuse them), followed by
// more bytes or not; and for a record whose every fixed byte takes every
// value. Its steps, its one-byte tail and the step that finds the LF all
// meet these cases.
func TestWholeDataMatchesLong(t *testing.T) {
	if !haveSSE42 {
		t.Skip("no SSE4.2")
	}
	check := func(buf []byte) {
		t.Helper()
		ts, n := wholeData(buf)
		wts, wn := wholeDataLong(buf)
		if n != wn || ts != wts {
			t.Fatalf("wholeData(%q) = %d, %d; wholeDataLong says %d, %d", buf, ts, n, wts, wn)
		}
	}
	const ts = 1234567890123456789
	tail := []byte("\x1e{\"t\":")
	for n := 1; n <= 40; n++ {
		base := bytes.Repeat([]byte("a"), n)
		for _, b := range []byte{'\n', recordStart, '}', 'a'} {
			for pos := range n {
				p := bytes.Clone(base)
				p[pos] = b
				rec := appendFrame(nil, kindData, ts, p)
				check(rec)
				check(append(bytes.Clone(rec), tail...))
				check(rec[:len(rec)-1]) // no LF yet
			}
		}
	}
	rec := appendFrame(nil, kindData, ts, []byte(`"a value of some length"`))
	for pos := range payloadAt + 1 {
		for c := range 256 {
			bad := bytes.Clone(rec)
			bad[pos] = byte(c)
			check(bad)
		}
	}
}
