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
	Kind   string // ProblemTorn, ProblemCorrupt, ProblemMissing, ProblemOffsets or ProblemReset
	Chunk  uint64 // chunk number
	Pos    int64  // byte position in the chunk file
	Length int64  // bytes skipped
	// Offset and Count are the hole of a ProblemMissing (and the records
	// skipped by a ProblemReset, when known).
	Offset, Count int64
	Detail        string
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
		return fmt.Sprintf("chunk %d byte %d: missing: offsets %d to %d (%d records) cannot be read: %s",
			p.Chunk, p.Pos, p.Offset, p.Offset+p.Count-1, p.Count, p.Detail)
	case ProblemReset, ProblemOffsets:
		return fmt.Sprintf("chunk %d: %s: %s", p.Chunk, p.Kind, p.Detail)
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
		// Not a record start: corruption. Skip to the next RS; if none is
		// there yet, wait for more (the skip is reported once it is known).
		r := bytes.IndexByte(buf, recordStart)
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
