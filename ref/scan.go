package ref

import (
	"bytes"
	"fmt"
)

// Problem kinds a scan reports.
const (
	// ProblemTorn is a record cut short: a producer killed mid-write, or a
	// short write (ENOSPC, EFBIG). The bytes stay in the file; readers skip
	// them and resynchronize at the next record start.
	ProblemTorn = "torn"
	// ProblemCorrupt is a complete line that fails its layout or CRC check,
	// or bytes that do not start with a record marker.
	ProblemCorrupt = "corrupt"
	// ProblemReset is a consumer whose next record was deleted by retention
	// and that moved on to the earliest record still kept.
	ProblemReset = "reset"
	// ProblemMissing is a hole in the offsets: Count records from Offset on
	// were in the log but cannot be read (a corrupt record, a chunk cut
	// short). The records after the hole keep their offsets.
	ProblemMissing = "missing"
	// ProblemOffsets is a chunk whose records disagree with the base offset
	// of the chunk after it: offsets already delivered from it may be
	// wrong. Only damage to the active chunk, found after it was read, can
	// cause it.
	ProblemOffsets = "offsets"
)

// Problem is something a reader found and skipped. It is never delivered.
type Problem struct {
	Kind   string `json:"kind"`   // ProblemTorn, ProblemCorrupt, ProblemMissing, ProblemOffsets or ProblemReset
	Chunk  uint64 `json:"chunk"`  // chunk number
	Pos    int64  `json:"pos"`    // byte position in the chunk file
	Length int64  `json:"length"` // bytes skipped
	// Offset and Count are the hole of a ProblemMissing.
	Offset int64  `json:"offset,omitempty"`
	Count  int64  `json:"count,omitempty"`
	Detail string `json:"detail"`
}

// IsDamage says whether the problem means the log was damaged after it was
// written (corrupt bytes, missing records, disagreeing offsets). Torn
// records are not damage: a producer killed mid-write leaves one, and the
// format expects it. A reset is retention's doing, not damage.
func (p Problem) IsDamage() bool {
	switch p.Kind {
	case ProblemCorrupt, ProblemMissing, ProblemOffsets:
		return true
	}
	return false
}

// String describes the problem in one line for people.
func (p Problem) String() string {
	switch p.Kind {
	case ProblemMissing:
		what := fmt.Sprintf("offset %d", p.Offset)
		if p.Count > 1 {
			what = fmt.Sprintf("offsets %d to %d (%d records)", p.Offset, p.Offset+p.Count-1, p.Count)
		}
		if p.Length > 0 {
			return fmt.Sprintf("chunk %d byte %d: %s missing: %d damaged bytes skipped: %s", p.Chunk, p.Pos, what, p.Length, p.Detail)
		}
		return fmt.Sprintf("chunk %d byte %d: %s missing: %s", p.Chunk, p.Pos, what, p.Detail)
	case ProblemReset, ProblemOffsets:
		return fmt.Sprintf("chunk %d: %s: %s", p.Chunk, p.Kind, p.Detail)
	}
	if p.Length == 0 {
		return fmt.Sprintf("chunk %d byte %d: %s: %s", p.Chunk, p.Pos, p.Kind, p.Detail)
	}
	return fmt.Sprintf("chunk %d byte %d: skipped %s span of %d bytes: %s", p.Chunk, p.Pos, p.Kind, p.Length, p.Detail)
}

// scanStep is the outcome of looking at the bytes at the start of a buffer.
type scanStep int

const (
	stepRecord  scanStep = iota // a valid record of n bytes
	stepSkip                    // n bytes of damage to skip (problem set)
	stepPartial                 // need more bytes (a record still being written, or the end of the file)
)

// wholeData is scanOne's outcome for the common case, a whole valid data
// record at the start of buf: its time and length, or n == 0 when buf
// starts with anything else, which scanOne then sorts out. On amd64 with
// SSE4.2 a record with a short payload is checked in one pass
// (scanDataSSE42); otherwise one search finds its LF and checkFrame checks
// it. An RS inside the line (a torn record with the next one after it) is
// refused too, and scanOne skips it as torn. FuzzScan and
// TestWholeDataMatchesLong check that the paths agree.
func wholeData(buf []byte) (ts int64, n int) {
	if len(buf) <= frameOverhead {
		return 0, 0
	}
	if haveSSE42 {
		p := buf[:min(len(buf), payloadAt+shortCRC+2)]
		ts, n := scanDataSSE42(p)
		if n < 0 {
			if len(p) < len(buf) {
				return wholeDataLong(buf) // a payload of shortCRC bytes or more
			}
			return 0, 0 // partial
		}
		return ts, n
	}
	return wholeDataLong(buf)
}

// wholeDataLong is wholeData through a search for the record's LF and
// checkFrame.
func wholeDataLong(buf []byte) (ts int64, n int) {
	e := bytes.IndexByte(buf, recordEnd)
	if e < frameOverhead || buf[0] != recordStart || buf[kindAt] != kindData {
		return 0, 0
	}
	ts, fault := checkFrame(buf[:e+1])
	if fault != frameOK {
		return 0, 0
	}
	return ts, e + 1
}

// scanOne looks at buf, which starts at a position where a record should
// start, and says what is there. final means no byte will ever follow buf
// (never true for a live chunk; readers only use it for reports).
//
// The rules that make the framing self-synchronizing: a record starts with
// RS and ends with the first LF after it. RS and LF never occur inside a
// record. So bytes before the next RS that hold no LF are a fragment of a
// record cut short, and everything up to the next RS can be skipped without
// ever touching a record that another producer appended after it.
func scanOne(buf []byte) (step scanStep, n int, f frame, problem string, detail string) {
	if len(buf) == 0 {
		return stepPartial, 0, frame{}, "", ""
	}
	if buf[0] != recordStart {
		// Not a record start: corruption. Skip to the first LF (a line
		// whose RS was damaged ends there) or the next RS, whichever comes
		// first; if neither is there yet, wait for more.
		r := bytes.IndexByte(buf, recordStart)
		if e := bytes.IndexByte(buf, recordEnd); e >= 0 && (r < 0 || e < r) {
			return stepSkip, e + 1, frame{}, ProblemCorrupt, "bytes without a record marker"
		}
		if r < 0 {
			return stepPartial, 0, frame{}, "", ""
		}
		return stepSkip, r, frame{}, ProblemCorrupt, "bytes without a record marker"
	}
	e := bytes.IndexByte(buf, recordEnd)
	limit := len(buf)
	if e >= 0 {
		limit = e
	}
	if r := bytes.IndexByte(buf[1:limit], recordStart); r >= 0 {
		return stepSkip, r + 1, frame{}, ProblemTorn, "record cut short, next record follows"
	}
	if e < 0 {
		return stepPartial, 0, frame{}, "", ""
	}
	fr, err := parseFrame(buf[:e+1])
	if err != nil {
		return stepSkip, e + 1, frame{}, ProblemCorrupt, err.Error()
	}
	return stepRecord, e + 1, fr, "", ""
}
