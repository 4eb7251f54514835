package ref

import (
	"fmt"
	"time"
)

// FsyncMode says when appended data is forced to stable storage.
type FsyncMode string

// Fsync modes. docs/FORMAT.md says which crash each survives.
const (
	// FsyncNever leaves data in the page cache: it survives the death of any
	// process (SIGKILL included), not a power loss or kernel crash.
	FsyncNever FsyncMode = "never"
	// FsyncAlways calls fdatasync before Append and Ack return, and syncs new
	// chunks and the directory at rotation: a returned append survives a
	// power loss.
	FsyncAlways FsyncMode = "always"
	// FsyncInterval calls fdatasync every Options.FsyncInterval: a power loss
	// loses at most that much.
	FsyncInterval FsyncMode = "interval"
)

// Options configures a topic. The zero value is usable.
type Options struct {
	// ChunkRecords rotates the active chunk after about this many records
	// (0 = no record limit). Limits are soft: concurrent producers may
	// overshoot by a few records.
	ChunkRecords int
	// ChunkBytes rotates after about this many bytes (0 = default 64 MiB).
	ChunkBytes int64
	// RetainChunks keeps at most this many chunks, the active one included
	// (0 = keep all).
	RetainChunks int
	// RetainBytes keeps at most about this many bytes of chunks; the active
	// chunk is always kept (0 = no byte limit).
	RetainBytes int64
	// Fsync is the durability mode (default FsyncNever).
	Fsync FsyncMode
	// FsyncInterval is the period of FsyncInterval (default 100 ms).
	FsyncInterval time.Duration
	// MaxRecordSize refuses larger payloads (default 1 MiB; up to 64 MiB).
	MaxRecordSize int
	// AllowUnsafeFS opens topics on filesystems where O_APPEND is not atomic
	// across writers (NFS, CIFS/SMB, FUSE). Records may interleave there.
	AllowUnsafeFS bool
	// MustExist makes Open fail with an error wrapping ErrNoTopic, and
	// create nothing, when the topic does not exist (no directory, or no
	// chunk in it). Readers set it, so that a mistyped path is an error,
	// not an empty new topic.
	MustExist bool
}

// Defaults of Options.
const (
	DefaultChunkBytes    = 64 << 20
	DefaultMaxRecordSize = 1 << 20
	DefaultFsyncInterval = 100 * time.Millisecond
	maxMaxRecordSize     = 64 << 20
)

func (o Options) withDefaults() (Options, error) {
	if o.ChunkBytes == 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.FsyncInterval == 0 {
		o.FsyncInterval = DefaultFsyncInterval
	}
	if o.Fsync == "" {
		o.Fsync = FsyncNever
	}
	switch {
	case o.ChunkRecords < 0:
		return o, fmt.Errorf("chunk records %d: must not be negative", o.ChunkRecords)
	case o.ChunkBytes < 0:
		return o, fmt.Errorf("chunk bytes %d: must not be negative", o.ChunkBytes)
	case o.RetainChunks < 0:
		return o, fmt.Errorf("retain chunks %d: must not be negative", o.RetainChunks)
	case o.RetainBytes < 0:
		return o, fmt.Errorf("retain bytes %d: must not be negative", o.RetainBytes)
	case o.MaxRecordSize < 0 || o.MaxRecordSize > maxMaxRecordSize:
		return o, fmt.Errorf("max record size %d: must be 1 to %d", o.MaxRecordSize, maxMaxRecordSize)
	case o.FsyncInterval < 0:
		return o, fmt.Errorf("fsync interval %v: must not be negative", o.FsyncInterval)
	}
	switch o.Fsync {
	case FsyncNever, FsyncAlways, FsyncInterval:
	default:
		return o, fmt.Errorf("fsync mode %q: want never, always or interval", o.Fsync)
	}
	return o, nil
}

// ParseFsyncMode parses "never", "always" or "interval".
func ParseFsyncMode(s string) (FsyncMode, error) {
	switch m := FsyncMode(s); m {
	case FsyncNever, FsyncAlways, FsyncInterval:
		return m, nil
	}
	return "", fmt.Errorf("fsync mode %q: want never, always or interval", s)
}
