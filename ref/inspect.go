package ref

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ChunkReport describes one chunk file.
type ChunkReport struct {
	Number uint64 `json:"number"`
	Base   int64  `json:"base"` // offset of its first record
	// Records counts the valid data records before the seal: what a
	// consumer delivers from the chunk.
	Records int64 `json:"records"`
	// Missing counts the offsets of records that are in the chunk's count
	// but cannot be read (damage); every one is also in Problems.
	Missing int64 `json:"missing"`
	Bytes   int64 `json:"bytes"`
	Sealed  bool  `json:"sealed"`
	// Void counts records after the first seal: appends that lost the race
	// with a rotation and were written again to the next chunk.
	Void int `json:"void"`
	// PartialTail is the size of an incomplete record at the end of the
	// active chunk: a write in progress, or one cut short by a crash.
	PartialTail int64     `json:"partial_tail"`
	Problems    []Problem `json:"problems,omitempty"`
	HeaderError string    `json:"header_error,omitempty"`
}

// GroupReport describes one consumer group.
type GroupReport struct {
	Name   string `json:"name"`
	Acked  int64  `json:"acked"` // -1 when the group has no ack
	Locked bool   `json:"locked"`
}

// InspectReport is what Inspect found in a topic.
type InspectReport struct {
	Topic  string        `json:"topic"`
	Active uint64        `json:"active_chunk"`
	Chunks []ChunkReport `json:"chunks"`
	Groups []GroupReport `json:"groups"`
	// End is the offset the next record will get.
	End int64 `json:"end"`
	// Damage lists what makes the log damaged: corrupt records, missing
	// records, bad headers, base offsets that do not follow. Torn records
	// left by crashes are listed per chunk but are not damage: the format
	// expects them.
	Damage []string `json:"damage,omitempty"`
}

// Inspect reads a topic without changing it and reports its chunks, groups
// and any damage found. It numbers records exactly as a consumer does, so
// what it reports missing is what a consumer reports missing. A topic that
// does not exist is an error wrapping ErrNoTopic.
func Inspect(dir, name string) (*InspectReport, error) {
	if err := ValidateName("topic", name); err != nil {
		return nil, err
	}
	t := &Topic{name: name, dir: filepath.Join(dir, name)}
	if err := t.mustExist(); err != nil {
		return nil, err
	}
	chunks, err := t.chunks()
	if err != nil {
		return nil, err
	}
	rep := &InspectReport{Topic: name}
	if len(chunks) > 0 {
		rep.Active = chunks[len(chunks)-1]
	}
	limit := inspectLimit(t.dir)
	var prevEnd int64 = -1
	for i, n := range chunks {
		nextBase := int64(-1)
		if i < len(chunks)-1 && chunks[i+1] == n+1 {
			if b, err := t.chunkBase(n + 1); err == nil {
				nextBase = b
			}
		}
		cr, end, err := inspectChunk(t, n, prevEnd, nextBase, i == len(chunks)-1, limit)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted by retention while we looked
		}
		if err != nil {
			return nil, err
		}
		if cr.HeaderError != "" {
			rep.Damage = append(rep.Damage, cr.HeaderError)
		} else if prevEnd >= 0 && cr.Base != prevEnd {
			rep.Damage = append(rep.Damage, fmt.Sprintf("chunk %d: base offset %d, but the previous chunk ends at %d", n, cr.Base, prevEnd))
		}
		for _, p := range cr.Problems {
			if p.IsDamage() {
				rep.Damage = append(rep.Damage, p.String())
			}
		}
		if i < len(chunks)-1 && chunks[i+1] != n+1 {
			rep.Damage = append(rep.Damage, fmt.Sprintf("chunk %d: followed by chunk %d; the chunks between are gone", n, chunks[i+1]))
		}
		prevEnd = end
		rep.End = end
		rep.Chunks = append(rep.Chunks, cr)
	}
	rep.Groups, err = inspectGroups(t)
	return rep, err
}

// inspectLimit is the read limit a consumer of the topic in dir uses, from
// its control file, read without mapping or changing it.
func inspectLimit(dir string) int {
	rec := maxMaxRecordSize
	if page, err := os.ReadFile(filepath.Join(dir, controlName)); err == nil && len(page) == controlSize {
		if n := int(binary.LittleEndian.Uint64(page[maxRecAt:])); n > 0 {
			rec = max(n, DefaultMaxRecordSize)
		}
	}
	return 2*(rec+frameOverhead) + 64<<10
}

// inspectChunk reports chunk n the way a consumer reads it: prevEnd is
// where the chunk before it ended (-1 if unknown), nextBase the base of
// the chunk after it (-1 if none or unreadable), active whether it is the
// last chunk. It returns the offset after the chunk's last slot.
func inspectChunk(t *Topic, n uint64, prevEnd, nextBase int64, active bool, limit int) (ChunkReport, int64, error) {
	cr := ChunkReport{Number: n}
	data, err := os.ReadFile(t.chunkPath(n))
	if err != nil {
		return cr, 0, err
	}
	cr.Bytes = int64(len(data))
	r := bytes.NewReader(data)
	h, hsize, herr := readHeader(r, n)
	if herr != nil {
		if !errors.Is(herr, errBadHeader) {
			return cr, 0, herr
		}
		cr.HeaderError = herr.Error()
		h.Base = prevEnd
		if h.Base < 0 {
			if h.Base, err = t.derivedBase(n); err != nil {
				cr.HeaderError += "; " + err.Error()
				h.Base = 0
			}
		}
	}
	cr.Base = h.Base
	next := h.Base
	var plan *chunkPlan
	planned := false
	var planErr error
	stop, partial, err := walkChunk(r, int64(hsize), limit, func(it scanItem) bool {
		switch {
		case it.step == stepSkip:
			if cr.Sealed {
				return true
			}
			if it.problem == ProblemCorrupt && !planned && !active && nextBase >= 0 {
				planned = true
				plan, planErr = planChunk(r, it.pos, next, nextBase, limit)
			}
			slots := plan.spanSlots(it.pos, it.span)
			cr.Problems = append(cr.Problems, skipProblem(n, it.pos, it.span, it.problem, it.detail, next, slots))
			next += slots
			cr.Missing += slots
		case cr.Sealed:
			if it.fr.kind == kindData {
				cr.Void++
			}
		case it.fr.kind == kindData:
			if plan != nil && !plan.sealed && next >= plan.end {
				cr.Sealed = true // past the count of a chunk whose seal was damaged
				cr.Void++
				return true
			}
			cr.Records++
			next++
		case it.fr.kind == kindSeal:
			cr.Sealed = true
		}
		return true
	})
	if err = errors.Join(err, planErr); err != nil {
		return cr, 0, fmt.Errorf("read chunk %d: %w", n, err)
	}
	switch {
	case active || cr.Sealed:
		cr.PartialTail = partial
	default:
		// A chunk with a successor and no seal: cut short.
		damaged := planned
		if !planned && nextBase >= 0 {
			if plan, err = planChunk(r, stop, next, nextBase, limit); err != nil {
				return cr, 0, fmt.Errorf("read chunk %d: %w", n, err)
			}
		}
		var p Problem
		before := next
		p, next = unsealedProblem(n, stop, partial, next, plan, damaged)
		cr.Problems = append(cr.Problems, p)
		cr.Missing += next - before
	}
	return cr, next, nil
}

func inspectGroups(t *Topic) ([]GroupReport, error) {
	entries, err := os.ReadDir(filepath.Join(t.dir, groupsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	var out []GroupReport
	for _, e := range entries {
		if !e.IsDir() || ValidateName("group", e.Name()) != nil {
			continue
		}
		acks := &Topic{name: e.Name(), dir: filepath.Join(t.dir, groupsDir, e.Name())}
		g := GroupReport{Name: e.Name(), Acked: -1, Locked: groupLocked(filepath.Join(t.dir, groupsDir, e.Name()+".lock"))}
		if off, ok, err := lastAckIn(acks); err != nil {
			return nil, err
		} else if ok {
			g.Acked = off
		}
		out = append(out, g)
	}
	return out, nil
}

// String renders the report for people.
func (r *InspectReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "topic %s: %d chunks, next offset %d, active chunk %d\n", r.Topic, len(r.Chunks), r.End, r.Active)
	fmt.Fprintf(&b, "%8s %12s %10s %8s %12s %7s %5s %6s %s\n", "chunk", "base", "records", "missing", "bytes", "sealed", "void", "torn", "tail")
	for _, c := range r.Chunks {
		torn := 0
		for _, p := range c.Problems {
			if p.Kind == ProblemTorn {
				torn++
			}
		}
		fmt.Fprintf(&b, "%8d %12d %10d %8d %12d %7v %5d %6d %d\n", c.Number, c.Base, c.Records, c.Missing, c.Bytes, c.Sealed, c.Void, torn, c.PartialTail)
	}
	for _, g := range r.Groups {
		state := "idle"
		if g.Locked {
			state = "consumer live"
		}
		if g.Acked < 0 {
			fmt.Fprintf(&b, "group %s: no ack (%s)\n", g.Name, state)
		} else {
			fmt.Fprintf(&b, "group %s: acked %d, resumes at %d (%s)\n", g.Name, g.Acked, g.Acked+1, state)
		}
	}
	for _, c := range r.Chunks {
		for _, p := range c.Problems {
			if !p.IsDamage() {
				b.WriteString(p.String() + "\n")
			}
		}
	}
	if len(r.Damage) == 0 {
		b.WriteString("log OK\n")
	} else {
		for _, d := range r.Damage {
			fmt.Fprintf(&b, "DAMAGE: %s\n", d)
		}
	}
	return b.String()
}
