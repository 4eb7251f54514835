package ref

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// Record framing. Every record in a chunk file is one line:
//
//	RS {"t":TTTTTTTTTTTTTTTTTTT,"c":"CCCCCCCC","K":PAYLOAD} LF
//
// with no spaces: RS is the byte 0x1E (as in RFC 7464 JSON text sequences),
// T the producer's wall-clock time in ns as exactly 19 decimal digits, C the
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

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC is the CRC-32C of the time digits, the kind byte and the
// payload. The single kind byte is folded in with a table lookup: a third
// crc32.Update call for one byte cost more than the lookup on the read path.
func frameCRC(ts []byte, kind byte, payload []byte) uint32 {
	crc := ^crc32.Update(0, castagnoli, ts)
	crc = castagnoli[byte(crc)^kind] ^ (crc >> 8)
	return crc32.Update(^crc, castagnoli, payload)
}

// errBadFrame is the cause of every frame that fails to parse.
var errBadFrame = errors.New("bad frame")

// ErrRecordTooLarge is returned for a payload over Options.MaxRecordSize.
var ErrRecordTooLarge = errors.New("record too large")

// ErrBadPayload is returned for a payload that is empty or holds a byte
// (0x1E or 0x0A) that would break the framing.
var ErrBadPayload = errors.New("payload is not a single-line JSON value")

const hexDigits = "0123456789abcdef"

// appendFrame appends the framed record to dst and returns it.
func appendFrame(dst []byte, kind byte, ts int64, payload []byte) []byte {
	n := len(dst)
	dst = append(dst, "\x1e{\"t\":0000000000000000000,\"c\":\"00000000\",\"v\":"...)
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], ts, 10)
	copy(dst[n+tsAt+tsDigits-len(d):n+tsAt+tsDigits], d)
	dst[n+kindAt] = kind
	crc := frameCRC(dst[n+tsAt:n+tsAt+tsDigits], kind, payload)
	for i := 7; i >= 0; i-- {
		dst[n+crcAt+i] = hexDigits[crc&0xf]
		crc >>= 4
	}
	dst = append(dst, payload...)
	return append(dst, '}', '\n')
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

// digitBad[c] is 1 unless c is a decimal digit; hexVal[c] is the value of
// the lowercase hex digit c, or 0x80 if c is none.
var digitBad, hexVal = func() (d, h [256]byte) {
	for c := range 256 {
		d[c], h[c] = 1, 0x80
		switch {
		case c >= '0' && c <= '9':
			d[c], h[c] = 0, byte(c-'0')
		case c >= 'a' && c <= 'f':
			h[c] = byte(c - 'a' + 10)
		}
	}
	return d, h
}()

// frame is one parsed record.
type frame struct {
	kind    byte
	ts      int64
	payload []byte
}

// parseFrame parses one complete line, from RS to LF inclusive, and checks
// its layout and CRC.
func parseFrame(line []byte) (frame, error) {
	if len(line) < frameOverhead+1 {
		return frame{}, fmt.Errorf("%w: %d bytes is too short", errBadFrame, len(line))
	}
	if line[0] != recordStart || line[len(line)-1] != recordEnd || line[len(line)-2] != '}' ||
		string(line[1:tsAt]) != `{"t":` || string(line[tsAt+tsDigits:crcAt]) != `,"c":"` ||
		string(line[crcAt+8:kindAt]) != `","` || string(line[kindAt+1:payloadAt]) != `":` {
		return frame{}, fmt.Errorf("%w: layout", errBadFrame)
	}
	// Digits are checked once after each loop, not per byte: the per-byte
	// branch on random hex digits was a fifth of a reader's time.
	var ts int64
	var bad byte
	for _, c := range line[tsAt : tsAt+tsDigits] {
		d := c - '0'
		bad |= digitBad[c]
		ts = ts*10 + int64(d)
	}
	if bad != 0 {
		return frame{}, fmt.Errorf("%w: timestamp", errBadFrame)
	}
	var want uint32
	for _, c := range line[crcAt : crcAt+8] {
		v := hexVal[c]
		bad |= v
		want = want<<4 | uint32(v&0xf)
	}
	if bad&0x80 != 0 {
		return frame{}, fmt.Errorf("%w: crc digits", errBadFrame)
	}
	payload := line[payloadAt : len(line)-2]
	crc := frameCRC(line[tsAt:tsAt+tsDigits], line[kindAt], payload)
	if crc != want {
		return frame{}, fmt.Errorf("%w: crc %08x, computed %08x", errBadFrame, want, crc)
	}
	kind := line[kindAt]
	if kind != kindData && kind != kindHeader && kind != kindSeal {
		return frame{}, fmt.Errorf("%w: kind %q", errBadFrame, kind)
	}
	return frame{kind: kind, ts: ts, payload: payload}, nil
}
