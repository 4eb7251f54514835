package ref

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
)

// Record framing. Every record in a chunk file is one line:
//
//	RS {"t":TTTTTTTTTTTTTTTTTTT,"c":"CCCCCCCC","K":PAYLOAD} LF
//
// with no spaces: RS is the byte 0x1E (as in RFC 7464 JSON text sequences),
// T the record's time (the producer's wall clock at the append, or the
// time given to AppendAt) in ns as exactly 19 decimal digits, C the
// CRC-32C (Castagnoli) in 8 lowercase hex digits, K one letter naming the
// kind of record, and PAYLOAD a JSON value that holds no byte 0x1E or 0x0A.
// The CRC covers the 19 time digits, the kind letter and the payload, in
// that order. docs/FORMAT.md has byte-level examples.
const (
	recordStart = 0x1E // RS: first byte of every record
	recordEnd   = '\n' // LF: last byte of every record

	// Kinds of record.
	kindData   = 'v' // a message; PAYLOAD is the user's JSON
	kindHeader = 'h' // first record of a chunk: {"chunk":N,"base":OFFSET}
	kindSeal   = 's' // ends a chunk: {"chunk":N}; records after the first seal are void

	tsDigits  = 19
	tsAt      = 6  // RS {"t":
	crcAt     = 31 // ... ,"c":"
	kindAt    = 42 // ... ","
	payloadAt = 45 // ... K":
	// frameOverhead is the bytes a record adds around its payload.
	frameOverhead = payloadAt + 2 // payload, then }LF
)

// errBadFrame is the cause of every frame that fails to parse.
var errBadFrame = errors.New("bad frame")

// ErrRecordTooLarge is returned for a payload over Options.MaxRecordSize.
var ErrRecordTooLarge = errors.New("record too large")

// ErrBadPayload is returned for a payload that is empty or holds a byte
// (0x1E or 0x0A) that would break the framing.
var ErrBadPayload = errors.New("payload is not a single-line JSON value")

const hexDigits = "0123456789abcdef"

// appendFrame appends the framed record to dst and returns it. The
// payload must have passed checkPayload.
func appendFrame(dst []byte, kind byte, ts int64, payload []byte) []byte {
	n := len(dst)
	dst = appendHead(dst, kind, ts)
	binary.LittleEndian.PutUint64(dst[n+crcAt:], hexEight(frameCRC(dst[n+tsAt:n+tsAt+tsDigits], kind, payload)))
	dst = append(dst, payload...)
	return append(dst, '}', '\n')
}

// appendFrameChecked is appendFrame for a payload that checkPayload has
// only measured: it appends the record and returns true, or, when the
// payload holds an LF or RS, returns dst as it was and false. On amd64
// with SSE4.2 a payload of fewer than shortCRC bytes is copied,
// checksummed and searched in one pass (frameCopySSE42), where the
// producer made four: two searches, the copy and the CRC. hc, when not
// nil, keeps the fixed fields and their CRC for the next record of the
// same time and kind (klref produce gives all the lines of one read the
// same time).
func appendFrameChecked(dst []byte, kind byte, ts int64, payload []byte, hc *headCache) ([]byte, bool) {
	if !haveSSE42 || len(payload) >= shortCRC {
		if bytes.IndexByte(payload, recordEnd) >= 0 || bytes.IndexByte(payload, recordStart) >= 0 {
			return dst, false
		}
		return appendFrame(dst, kind, ts, payload), true
	}
	n := len(dst)
	var state uint32
	if hc != nil && hc.valid && hc.ts == ts && hc.head[kindAt] == kind {
		dst, state = append(dst, hc.head[:]...), hc.state
	} else {
		dst = appendHead(dst, kind, ts)
		state = frameHeadSSE42(&dst[n+tsAt], kind)
		if hc != nil {
			copy(hc.head[:], dst[n:])
			hc.ts, hc.state, hc.valid = ts, state, true
		}
	}
	m := len(dst)
	dst = slices.Grow(dst, len(payload)+2)[:m+len(payload)+2]
	crc, bad := frameCopySSE42(&dst[m], state, payload)
	if bad {
		return dst[:n], false
	}
	binary.LittleEndian.PutUint64(dst[n+crcAt:], hexEight(crc))
	dst[m+len(payload)], dst[m+len(payload)+1] = '}', '\n'
	return dst, true
}

// headCache is appendFrameChecked's copy of the last record's fixed
// fields (the CRC digits not filled in) and the CRC register after them.
type headCache struct {
	valid bool
	ts    int64
	state uint32
	head  [payloadAt]byte
}

// appendHead appends a record's fixed fields, up to its payload, with
// the CRC's digits left for the caller to fill in.
func appendHead(dst []byte, kind byte, ts int64) []byte {
	n := len(dst)
	dst = append(dst, "\x1e{\"t\":0000000000000000000,\"c\":\"00000000\",\"v\":"...)
	tsb := dst[n+tsAt : n+tsAt+tsDigits]
	// Every int64 from 0 up has at most 19 digits: 8, 8 and 3. A clock
	// before 1970 is stored as 0, which readers accept: its digits would
	// make the record unreadable.
	u := uint64(max(ts, 0))
	binary.LittleEndian.PutUint64(tsb, eightASCII(uint32(u/100_000_000_000)))
	binary.LittleEndian.PutUint64(tsb[8:], eightASCII(uint32(u/1000%100_000_000)))
	lo := u % 1000
	tsb[16], tsb[17], tsb[18] = byte('0'+lo/100), byte('0'+lo/10%10), byte('0'+lo%10)
	dst[n+kindAt] = kind
	return dst
}

// eightASCII is the eight decimal digits of v (below 10^8), the most
// significant first, packed like a little-endian load of those bytes: the
// inverse of parseEight. It splits v into two halves of four digits, each
// of those into two of two, and each of those into two digits, every
// step dividing all lanes at once by a multiply and shift (exact for the
// lanes' ranges); strconv.AppendInt took a thirtieth of klref produce.
func eightASCII(v uint32) uint64 {
	x := uint64(v/10000) | uint64(v%10000)<<32
	q := (x * 10486 >> 20) & 0x0000007F0000007F // lanes / 100
	x = (x-q*100)<<16 | q
	q = (x * 103 >> 10) & 0x000F000F000F000F // lanes / 10
	x = (x-q*10)<<8 | q
	return x + 0x3030303030303030
}

// checkPayload rejects payloads that would break the framing.
func checkPayload(p []byte, max int) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty", ErrBadPayload)
	}
	if max > 0 && len(p) > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, len(p), max)
	}
	if i := bytes.IndexByte(p, recordEnd); i >= 0 {
		return fmt.Errorf("%w: holds a newline at byte %d", ErrBadPayload, i)
	}
	if i := bytes.IndexByte(p, recordStart); i >= 0 {
		return fmt.Errorf("%w: holds byte 0x1e at byte %d", ErrBadPayload, i)
	}
	return nil
}

// The read path checks and converts the fixed-width fields eight bytes at
// a time (SWAR): the digit loops were most of a reader's profile. The
// techniques are the well-known ones of simdjson (Lemire).

// eightDigits reports whether the 8 bytes of v (little-endian: the first
// byte in the file is the lowest) are all ASCII decimal digits.
func eightDigits(v uint64) bool {
	return (v&0xF0F0F0F0F0F0F0F0)|(((v+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4) == 0x3333333333333333
}

// parseEight converts 8 ASCII digits (checked by eightDigits), the first
// byte in the file the most significant digit, to their value.
func parseEight(v uint64) uint64 {
	const mask, mul1, mul2 = 0x000000FF000000FF, 100 + 1000000<<32, 1 + 10000<<32
	v -= 0x3030303030303030
	v = v*10 + v>>8
	return ((v&mask)*mul1 + ((v>>16)&mask)*mul2) >> 32
}

// hexEight is the 8 lowercase hex digits of crc as they stand in a
// record, packed like a little-endian load of those bytes, so a stored CRC
// is checked with one comparison.
func hexEight(crc uint32) uint64 {
	v := uint64(crc)
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	v = (v | v<<8) & 0x00FF00FF00FF00FF
	v = (v | v<<4) & 0x0F0F0F0F0F0F0F0F
	v = bits.ReverseBytes64(v) // the most significant nibble first in the file
	letters := ((v + 0x0606060606060606) >> 4) & 0x0101010101010101
	return v + 0x3030303030303030 + letters*('a'-'0'-10)
}

// frame is one parsed record.
type frame struct {
	kind    byte
	ts      int64
	payload []byte
}

// frameFault is what checkFrame found wrong with a line, if anything.
type frameFault uint8

const (
	frameOK frameFault = iota
	faultShort
	faultLayout
	faultTimestamp
	faultCRC
	faultRS
	faultKind
)

// checkFrame checks one complete line, from RS to LF inclusive: its layout,
// time digits, CRC, kind, and that no RS byte is inside it (the fixed
// fields hold none when their layout and digits are right, so only the
// payload is searched, in the CRC's pass). It returns the time and frameOK, or what is
// wrong, and allocates nothing: the read path calls it once per record, and
// returned in registers its two results cost nothing, where copying a
// frame struct out of parseFrame stalled on store forwarding.
func checkFrame(line []byte) (int64, frameFault) {
	if len(line) < frameOverhead+1 {
		return 0, faultShort
	}
	if line[len(line)-1] != recordEnd || line[len(line)-2] != '}' {
		return 0, faultLayout
	}
	ts, fault := checkHeader(line)
	if fault != frameOK {
		return 0, fault
	}
	crc, rs := frameCheck(line[tsAt:tsAt+tsDigits], line[kindAt], line[payloadAt:len(line)-2])
	if hexEight(crc) != binary.LittleEndian.Uint64(line[crcAt:]) {
		return 0, faultCRC
	}
	if rs {
		return 0, faultRS
	}
	if kind := line[kindAt]; kind != kindData && kind != kindHeader && kind != kindSeal {
		return 0, faultKind
	}
	return ts, frameOK
}

// checkHeader checks the fixed fields of a record, the payloadAt bytes
// from its RS up to its payload (line holds at least that many): their
// layout and time digits. It returns the time and frameOK, or what is
// wrong. Fields that pass hold no LF and no RS.
func checkHeader(line []byte) (int64, frameFault) {
	if line[0] != recordStart ||
		string(line[1:tsAt]) != `{"t":` || string(line[tsAt+tsDigits:crcAt]) != `,"c":"` ||
		string(line[crcAt+8:kindAt]) != `","` || string(line[kindAt+1:payloadAt]) != `":` {
		return 0, faultLayout
	}
	tsb := line[tsAt : tsAt+tsDigits]
	hi, mid := binary.LittleEndian.Uint64(tsb), binary.LittleEndian.Uint64(tsb[8:])
	d0, d1, d2 := tsb[16]-'0', tsb[17]-'0', tsb[18]-'0'
	if !eightDigits(hi) || !eightDigits(mid) || d0 > 9 || d1 > 9 || d2 > 9 {
		return 0, faultTimestamp
	}
	return int64(parseEight(hi)*100_000_000_000 + parseEight(mid)*1000 + uint64(d0)*100 + uint64(d1)*10 + uint64(d2)), frameOK
}

// parseFrame parses one complete line, from RS to LF inclusive, and checks
// its layout and CRC; its error says what is wrong.
func parseFrame(line []byte) (frame, error) {
	ts, fault := checkFrame(line)
	switch fault {
	case frameOK:
		return frame{kind: line[kindAt], ts: ts, payload: line[payloadAt : len(line)-2]}, nil
	case faultShort:
		return frame{}, fmt.Errorf("%w: %d bytes is too short", errBadFrame, len(line))
	case faultLayout:
		return frame{}, fmt.Errorf("%w: layout", errBadFrame)
	case faultTimestamp:
		return frame{}, fmt.Errorf("%w: timestamp", errBadFrame)
	case faultCRC:
		stored := line[crcAt : crcAt+8]
		if _, err := strconv.ParseUint(string(stored), 16, 32); err != nil || bytes.ContainsAny(stored, "ABCDEF") {
			return frame{}, fmt.Errorf("%w: crc digits", errBadFrame)
		}
		crc := frameCRC(line[tsAt:tsAt+tsDigits], line[kindAt], line[payloadAt:len(line)-2])
		return frame{}, fmt.Errorf("%w: crc %s, computed %08x", errBadFrame, stored, crc)
	case faultRS:
		return frame{}, fmt.Errorf("%w: a record marker (RS) inside the record", errBadFrame)
	default:
		return frame{}, fmt.Errorf("%w: kind %q", errBadFrame, line[kindAt])
	}
}
