package mutant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// marker starts every record line.
const marker = 0x1E

// record is one decoded record line.
type record struct {
	O int64   `json:"o"`
	V *string `json:"v"`
	C uint32  `json:"c"`
}

// crcOf is the checksum of a record: it covers the offset and the value.
func crcOf(off int64, v string) uint32 {
	h := crc32.NewIEEE()
	var b [24]byte
	h.Write(strconv.AppendInt(b[:0], off, 10))
	h.Write([]byte{':'})
	h.Write([]byte(v))
	return h.Sum32()
}

// encode appends the record line for (off, v) to buf and returns it with
// the length of its header (marker up to and including the value's opening
// quote).
func encode(buf []byte, off int64, v string) ([]byte, int) {
	vb, _ := json.Marshal(v) // marshaling a string cannot fail
	buf = append(buf, marker)
	buf = append(buf, `{"o":`...)
	buf = strconv.AppendInt(buf, off, 10)
	buf = append(buf, `,"v":`...)
	start := len(buf)
	buf = append(buf, vb...)
	buf = append(buf, `,"c":`...)
	buf = strconv.AppendUint(buf, uint64(crcOf(off, v)), 10)
	buf = append(buf, "}\n"...)
	return buf, start + 1
}

// parseLine decodes one line (without its '\n'): the record that starts at
// its last marker, if its checksum holds.
func parseLine(line []byte) (int64, string, bool) {
	i := bytes.LastIndexByte(line, marker)
	if i < 0 {
		return 0, "", false
	}
	var r record
	if err := json.Unmarshal(line[i+1:], &r); err != nil || r.V == nil {
		return 0, "", false
	}
	if crcOf(r.O, *r.V) != r.C {
		return 0, "", false
	}
	return r.O, *r.V, true
}

// parsePartial decodes whatever there is of an unterminated line the way a
// careless reader does: the offset and the value's bytes up to its closing
// quote or the end. ok is false when not even the value has begun.
func parsePartial(line []byte) (int64, string, bool) {
	i := bytes.LastIndexByte(line, marker)
	if i < 0 {
		return 0, "", false
	}
	rest := string(line[i+1:])
	if !strings.HasPrefix(rest, `{"o":`) {
		return 0, "", false
	}
	rest = rest[len(`{"o":`):]
	comma := strings.IndexByte(rest, ',')
	if comma < 0 {
		return 0, "", false
	}
	off, err := strconv.ParseInt(rest[:comma], 10, 64)
	if err != nil {
		return 0, "", false
	}
	rest = rest[comma:]
	if !strings.HasPrefix(rest, `,"v":"`) {
		return 0, "", false
	}
	v := rest[len(`,"v":"`):]
	if q := strings.IndexByte(v, '"'); q >= 0 {
		v = v[:q]
	}
	if v == "" {
		return 0, "", false
	}
	return off, v, true
}

// scanRecords returns the valid records of a chunk's bytes: their count,
// the last one's offset, and whether the data ends with a partial line.
func scanRecords(data []byte) (count int64, last int64, partial bool) {
	last = -1
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return count, last, true
		}
		if off, _, ok := parseLine(data[:nl]); ok {
			count++
			last = off
		}
		data = data[nl+1:]
	}
	return count, last, false
}

// chunkPath is the file of chunk n in topic directory dir.
func chunkPath(dir string, n int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.log", n))
}

// listChunks returns the chunk numbers in dir, ascending.
func listChunks(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list chunks: %w", err)
	}
	var out []int64
	for _, e := range ents {
		name := e.Name()
		if len(name) != 24 || !strings.HasSuffix(name, ".log") {
			continue
		}
		n, err := strconv.ParseInt(name[:20], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	return out, nil // ReadDir sorts by name, and names are zero-padded
}

// syncDir fsyncs directory dir, so that the entries made in it survive a
// power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// ensureDir makes dir and its missing parents; with sync, it syncs the
// parent of each directory it makes, so that none of them vanishes in a
// power loss.
func ensureDir(dir string, sync bool) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := ensureDir(parent, sync); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if sync {
		return syncDir(parent)
	}
	return nil
}
