package ref

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ChunkReport describes one chunk file.
type ChunkReport struct {
	Number  uint64 `json:"number"`
	Base    int64  `json:"base"`    // offset of its first record
	Records int64  `json:"records"` // valid records before the seal
	Bytes   int64  `json:"bytes"`
	Sealed  bool   `json:"sealed"`
	// Void counts records after the first seal: appends that lost the race
	// with a rotation and were written again to the next chunk.
	Void int `json:"void"`
	// PartialTail is the size of an incomplete record at the end: a write
	// in progress, or one cut short by a crash.
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
	// Damage lists what makes the log damaged: corrupt records, bad headers,
	// base offsets that do not follow. Torn records left by crashes are
	// listed per chunk but are not damage: the format expects them.
	Damage []string `json:"damage,omitempty"`
}

// Inspect reads a topic without changing it and reports its chunks, groups
// and any damage found.
func Inspect(dir, name string) (*InspectReport, error) {
	if err := ValidateName("topic", name); err != nil {
		return nil, err
	}
	t := &Topic{name: name, dir: filepath.Join(dir, name)}
	if _, err := os.Stat(t.dir); err != nil {
		return nil, fmt.Errorf("topic %s: %w", name, err)
	}
	chunks, err := t.chunks()
	if err != nil {
		return nil, err
	}
	rep := &InspectReport{Topic: name}
	if len(chunks) > 0 {
		rep.Active = chunks[len(chunks)-1]
	}
	var prevEnd int64 = -1
	for i, n := range chunks {
		cr, err := inspectChunk(t, n)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted by retention while we looked
		}
		if err != nil {
			return nil, err
		}
		if cr.HeaderError != "" {
			rep.Damage = append(rep.Damage, fmt.Sprintf("chunk %d: %s", n, cr.HeaderError))
		} else if prevEnd >= 0 && cr.Base != prevEnd {
			rep.Damage = append(rep.Damage, fmt.Sprintf("chunk %d: base offset %d, but the previous chunk ends at %d", n, cr.Base, prevEnd))
		}
		for _, p := range cr.Problems {
			if p.Kind == ProblemCorrupt {
				rep.Damage = append(rep.Damage, fmt.Sprintf("chunk %d: corrupt record at byte %d (%d bytes): %s", n, p.Pos, p.Length, p.Detail))
			}
		}
		if i < len(chunks)-1 && !cr.Sealed {
			rep.Damage = append(rep.Damage, fmt.Sprintf("chunk %d: not sealed, but chunk %d follows", n, chunks[i+1]))
		}
		prevEnd = cr.Base + cr.Records
		rep.End = prevEnd
		rep.Chunks = append(rep.Chunks, cr)
	}
	rep.Groups, err = inspectGroups(t)
	return rep, err
}

func inspectChunk(t *Topic, n uint64) (ChunkReport, error) {
	cr := ChunkReport{Number: n}
	data, err := os.ReadFile(t.chunkPath(n))
	if err != nil {
		return cr, err
	}
	cr.Bytes = int64(len(data))
	f, err := os.Open(t.chunkPath(n))
	if err != nil {
		return cr, err
	}
	h, hsize, herr := readHeader(f, n)
	f.Close()
	if herr != nil {
		cr.HeaderError = herr.Error()
		return cr, nil
	}
	cr.Base = h.Base
	for p := hsize; p < len(data); {
		step, size, fr, kind, detail := scanOne(data[p:])
		if step == stepPartial {
			cr.PartialTail = int64(len(data) - p)
			break
		}
		switch {
		case step == stepSkip:
			if !cr.Sealed {
				cr.Problems = append(cr.Problems, Problem{Kind: kind, Chunk: n, Pos: int64(p), Length: int64(size), Detail: detail})
			}
		case cr.Sealed:
			cr.Void++
		case fr.kind == kindData:
			cr.Records++
		case fr.kind == kindSeal:
			cr.Sealed = true
		}
		p += size
	}
	return cr, nil
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
	fmt.Fprintf(&b, "topic %s: %d chunks, offsets up to %d, active chunk %d\n", r.Topic, len(r.Chunks), r.End, r.Active)
	fmt.Fprintf(&b, "%8s %12s %10s %12s %7s %5s %6s %s\n", "chunk", "base", "records", "bytes", "sealed", "void", "torn", "tail")
	for _, c := range r.Chunks {
		torn := 0
		for _, p := range c.Problems {
			if p.Kind == ProblemTorn {
				torn++
			}
		}
		fmt.Fprintf(&b, "%8d %12d %10d %12d %7v %5d %6d %d\n", c.Number, c.Base, c.Records, c.Bytes, c.Sealed, c.Void, torn, c.PartialTail)
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
			fmt.Fprintf(&b, "chunk %d byte %d: %s span of %d bytes skipped: %s\n", c.Number, p.Pos, p.Kind, p.Length, p.Detail)
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
