package ref

import (
	"fmt"
	"io"
)

// Damage and offsets. A record's offset is its slot in the chunk: every
// data record before the chunk's first seal takes one. Bytes a reader must
// skip take slots too, by one rule that rotators (which count a chunk to
// write the next chunk's base) and readers share, so that they agree:
//
//   - a torn fragment (RS, then another RS before any LF) takes none: it is
//     a write cut short, never acknowledged; unless it is a whole record
//     whose final LF was damaged (its CRC checks with an LF put back), which
//     takes one;
//   - a complete line (RS … LF) that fails its layout or CRC check takes
//     one: each write is one line, so the line was one record;
//   - bytes that do not start with RS, up to and including the first LF,
//     take one if they look like a record whose RS was damaged (`{"t":`
//     follows the first byte), else none; without an LF before the next
//     RS, none.
//
// The rule is exact for a byte flipped anywhere in a record. Damage that
// destroys several record ends (a zeroed page, a chunk cut short) hides
// how many records were there. When the chunk has a successor, the
// successor's header base says exactly how many slots the chunk holds, and
// a chunkPlan puts the records after the damage back at their true
// offsets; see planChunk.

// skipSlots is the number of offsets a skipped span takes by the rule above.
func skipSlots(span []byte) int64 {
	if len(span) == 0 {
		return 0
	}
	last := span[len(span)-1]
	if span[0] == recordStart {
		if last == recordEnd {
			return 1
		}
		if len(span) > frameOverhead && span[len(span)-2] == '}' {
			fixed := append([]byte(nil), span...)
			fixed[len(fixed)-1] = recordEnd
			if _, err := parseFrame(fixed); err == nil {
				return 1
			}
		}
		return 0
	}
	if last == recordEnd && len(span) > frameOverhead && string(span[1:tsAt]) == `{"t":` {
		return 1
	}
	return 0
}

// chunkPlan says how many slots each damaged span of a finished chunk
// takes, reconciled with the base offset of the chunk after it. Spans are
// keyed by their byte position.
type chunkPlan struct {
	slots map[int64]int64
	// end is the offset of the chunk's seal: the next chunk's base. Records
	// at or past it are void (they follow a seal that was damaged).
	end int64
	// sealed says a valid seal was found; if not, the chunk ends at EOF and
	// tail slots are missing there.
	sealed bool
	tail   int64
	// tailPos and tailBytes locate a partial record at the end of an
	// unsealed chunk (a chunk cut short).
	tailPos, tailBytes int64
}

// scanItem is one step of walkChunk.
type scanItem struct {
	pos     int64
	step    scanStep // stepRecord or stepSkip
	n       int
	fr      frame
	problem string
	detail  string
	span    []byte // the bytes of a skipped span (valid only during the call)
}

// walkChunk reads r from pos, in a buffer of at most limit bytes, and calls
// fn for every record and skipped span until fn returns false or the bytes
// end. It returns the position where it stopped and the length of a
// partial record left at the end (bytes with no record end: a write in
// progress or cut short).
func walkChunk(r io.ReaderAt, pos int64, limit int, fn func(scanItem) bool) (stop, partial int64, err error) {
	buf := make([]byte, min(1<<20, limit))
	fpos, rd, e := pos, 0, 0
	eof := false
	for {
		for rd < e {
			step, n, fr, problem, detail := scanOne(buf[rd:e])
			if step == stepPartial {
				break
			}
			it := scanItem{pos: fpos + int64(rd), step: step, n: n, fr: fr, problem: problem, detail: detail}
			if step == stepSkip {
				it.span = buf[rd : rd+n]
			}
			if !fn(it) {
				return fpos + int64(rd), 0, nil
			}
			rd += n
		}
		if eof {
			return fpos + int64(rd), int64(e - rd), nil
		}
		copy(buf, buf[rd:e])
		fpos += int64(rd)
		e -= rd
		rd = 0
		if e == len(buf) {
			if len(buf) >= limit {
				it := scanItem{pos: fpos, step: stepSkip, n: e, problem: ProblemCorrupt,
					detail: fmt.Sprintf("no record end within the maximum record size (%d bytes)", limit), span: buf[:e]}
				if !fn(it) {
					return fpos, 0, nil
				}
				fpos += int64(e)
				e = 0
			} else {
				nb := make([]byte, min(2*len(buf), limit))
				copy(nb, buf[:e])
				buf = nb
			}
		}
		m, err := r.ReadAt(buf[e:], fpos+int64(e))
		e += m
		if err == io.EOF || (err == nil && m == 0) {
			eof = true
		} else if err != nil {
			return fpos, 0, err
		}
	}
}

// planChunk scans a finished chunk from pos, where the reader's next
// offset is next, to its first valid seal (or its end), and reconciles the
// slots of the damaged spans with nextBase, the base offset of the chunk
// after it. The spans take the slots the rule gives them; if the records
// found and those slots do not add up to nextBase, the difference goes to
// the last damaged span (the end of the chunk, if it has no seal), so that
// every record after the last damage gets its true offset, counted back
// from nextBase. If there are more records than slots (a seal was
// damaged), the records past nextBase are void.
func planChunk(r io.ReaderAt, pos, next, nextBase int64, limit int) (*chunkPlan, error) {
	pl := &chunkPlan{slots: map[int64]int64{}, end: nextBase}
	var spans []int64
	var valid int64
	stop, partial, err := walkChunk(r, pos, limit, func(it scanItem) bool {
		if it.step == stepSkip {
			spans = append(spans, it.pos)
			pl.slots[it.pos] = skipSlots(it.span)
			return true
		}
		switch it.fr.kind {
		case kindData:
			valid++
		case kindSeal:
			pl.sealed = true
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	var counted int64
	for _, s := range spans {
		counted += pl.slots[s]
	}
	diff := nextBase - next - valid - counted
	if !pl.sealed {
		// The missing end of the chunk is where anything unaccounted for
		// went: it was cut short (or its seal was damaged, and then the
		// extra records are void).
		pl.tail = max(diff, 0)
		diff = min(diff, 0)
		pl.tailPos, pl.tailBytes = stop, partial
	} else if diff > 0 && len(spans) > 0 {
		pl.slots[spans[len(spans)-1]] += diff
		diff = 0
	}
	for i := len(spans) - 1; i >= 0 && diff < 0; i-- {
		take := min(pl.slots[spans[i]], -diff)
		pl.slots[spans[i]] -= take
		diff += take
	}
	return pl, nil
}

// spanSlots returns the slots of the skipped span at pos: the plan's, or
// the rule's.
func (pl *chunkPlan) spanSlots(pos int64, span []byte) int64 {
	if pl != nil {
		if n, ok := pl.slots[pos]; ok {
			return n
		}
	}
	return skipSlots(span)
}

// skipProblem describes a skipped span that takes slots offsets from next.
func skipProblem(chunk uint64, pos int64, span []byte, kind, detail string, next, slots int64) Problem {
	p := Problem{Kind: kind, Chunk: chunk, Pos: pos, Length: int64(len(span)), Detail: detail}
	if slots > 0 {
		p.Kind, p.Offset, p.Count = ProblemMissing, next, slots
		if kind == ProblemTorn {
			p.Detail = "a record whose end byte was damaged"
		}
	}
	return p
}

// unsealedProblem describes the end of a finished chunk n that holds no
// seal, at byte pos with partial bytes of a record after it, where the
// reader's next offset is next. damaged says damage came before it in the
// chunk (which may have taken the seal). With a plan, the records the
// chunk no longer holds are missing, and it returns the offset the next
// chunk starts at; without one (the next chunk's header is unreadable),
// what was lost is unknown.
func unsealedProblem(n uint64, pos, partial, next int64, plan *chunkPlan, damaged bool) (Problem, int64) {
	detail := fmt.Sprintf("chunk %d ends at byte %d without a seal: it was cut short", n, pos+partial)
	if damaged {
		detail = fmt.Sprintf("chunk %d has no valid seal before its end at byte %d: the damage above took it, or the chunk was cut short", n, pos+partial)
	}
	if partial > 0 {
		detail += fmt.Sprintf(" (in the middle of a record: %d bytes of it are there)", partial)
	}
	p := Problem{Kind: ProblemCorrupt, Chunk: n, Pos: pos, Length: partial}
	switch {
	case plan == nil:
		p.Detail = detail + "; the next chunk's header cannot be read, so the records lost are not known"
	case plan.end > next:
		p.Kind, p.Offset, p.Count, p.Detail = ProblemMissing, next, plan.end-next, detail
		next = plan.end
	default:
		p.Detail = detail + ", after its last record"
	}
	return p, next
}
