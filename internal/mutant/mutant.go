// Package mutant holds deliberately broken implementations of the adapter
// protocol, each with one named bug that real logs have had, so that
// klcheck's checks can be shown to catch them.
//
// Every mutant runs over the same small on-disk log (see log.go), which is
// correct when no mutant is selected: a topic directory holds chunk files
// "%020d.log" of lines
//
//	0x1E {"o":OFFSET,"v":"VALUE","c":CRC32}\n
//
// appended under an exclusive flock on <topic>/lock with one write() per
// batch on an O_APPEND descriptor, so offsets are dense and returned by
// append. Readers read the chunks in order and skip lines that fail their
// CRC or lack their '\n'. Consumer groups keep acks in
// <topic>/groups/<group>.acks.
//
// Under fsync always it survives a power loss: each write is fdatasynced
// before the reply, as is each ack, and every directory entry it makes
// (the topic, a chunk, the groups directory, an acks file) is synced in its
// directory before anything in it is acknowledged. A producer rebuilds its
// state from the chunk files when it starts, since the state file is never
// synced.
//
// Serve runs one client; Names lists the mutants; Scenario and Expected give
// the scenario that targets a mutant and the anomalies klcheck must report
// for it.
package mutant

import (
	"context"
	"embed"
	"fmt"
	"io"
	"slices"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Mutant names.
const (
	SplitWrite      = "split-write"
	SeekWrite       = "seek-write"
	Buffered        = "buffered"
	RetryShortWrite = "retry-short-write"
	ProducerIDs     = "producer-ids"
	UnsafeRotation  = "unsafe-rotation"
	TornRead        = "torn-read"
	ResumeSkip      = "resume-skip"
	ResumeRewind    = "resume-rewind"
	LazyAck         = "lazy-ack"
	RetentionUnsafe = "retention-unsafe"
	// The mutants that only a power loss catches (they keep every byte a
	// SIGKILL leaves in the page cache).
	DirNoSync       = "dir-no-sync"
	AckNoSync       = "ack-no-sync"
	SyncBeforeWrite = "sync-before-write"
	ReplyBeforeSync = "reply-before-sync"
)

// mutantDef describes one mutant.
type mutantDef struct {
	name string
	bug  string
	// expected: at least one of these anomalies must be reported by
	// klcheck on the mutant's scenario.
	expected []string
}

// registry lists the mutants in a stable order.
var registry = []mutantDef{
	{SplitWrite, "writes each record with two write() calls (header, then the rest) outside the lock, so concurrent producers interleave",
		[]string{"torn", "merged-or-corrupt", "lost-write", "nonmonotonic-poll", "poll-skip"}},
	{SeekWrite, "writes without O_APPEND and without the lock: lseek(END) then write(), so records overwrite each other",
		[]string{"lost-write", "torn", "merged-or-corrupt", "duplicate", "nonmonotonic-poll", "poll-skip"}},
	{Buffered, "writes through a 4 KiB userspace buffer flushed when full and at close: records are split across write() calls and acked before they are written",
		[]string{"lost-write", "torn", "merged-or-corrupt"}},
	// Like split-write, its interleaved pieces are skipped by the CRC, and
	// whether a skipped record counts as lost or only as a skipped offset
	// depends on where the pieces of other producers landed: one CI run
	// reported only poll-skip and nonmonotonic-poll.
	{RetryShortWrite, "writes a record in pieces of at most 1000 bytes (a loop that finishes a short write with another write) outside the lock",
		[]string{"merged-or-corrupt", "torn", "lost-write", "nonmonotonic-poll", "poll-skip"}},
	{ProducerIDs, "each producer numbers its records itself, counting from the next offset it saw at start",
		[]string{"inconsistent-offsets", "duplicate", "nonmonotonic-poll", "producer-order", "realtime-order"}},
	{UnsafeRotation, "decides and performs rotation outside the lock, so a producer may still append to the old chunk after readers moved on",
		[]string{"lost-write", "poll-skip", "nonmonotonic-poll"}},
	{TornRead, "the reader takes what one 4 KiB read gives as a whole line (fgets-style): a partial line at the live tail or the first 4 KiB of a longer record is delivered",
		[]string{"torn"}},
	{ResumeSkip, "a consumer resumes one past its group's position (skips the first record after the last ack)",
		[]string{"resume-skip"}},
	{ResumeRewind, "a consumer resumes at its group's last acked record (redelivers it)",
		[]string{"resume-rewind", "ack-once"}},
	{LazyAck, "keeps acks in memory and writes them every 10th ack or at a clean close, so a killed consumer loses them",
		[]string{"resume-rewind", "ack-once"}},
	{RetentionUnsafe, "readers reopen chunk files by name for every read; when retention deleted theirs they reset to the newest chunk",
		[]string{"poll-skip", "lost-write"}},
	{DirNoSync, "under fsync always, syncs a new chunk's data but not the directory entry that names it when it rotates, so a power loss takes the whole chunk",
		[]string{"lost-acked"}},
	{AckNoSync, "under fsync always, writes acks without syncing them, so a power loss takes confirmed acks",
		[]string{"lost-ack"}},
	{SyncBeforeWrite, "under fsync always, calls fdatasync before the write instead of after it, so each append is made durable only by the next one",
		[]string{"lost-acked"}},
	{ReplyBeforeSync, "under fsync always, replies to an append before it syncs it, and syncs when the next request arrives",
		[]string{"lost-acked"}},
}

// PowerLoss tells whether the named mutant's scenario needs power losses
// (internal/lazyfs), and so is skipped where FUSE cannot be mounted.
func PowerLoss(name string) bool {
	switch name {
	case DirNoSync, AckNoSync, SyncBeforeWrite, ReplyBeforeSync:
		return true
	}
	return false
}

// Names returns the mutant names in a stable order.
func Names() []string {
	out := make([]string, len(registry))
	for i, m := range registry {
		out[i] = m.name
	}
	return out
}

// lookup returns the mutant named name.
func lookup(name string) (mutantDef, bool) {
	i := slices.IndexFunc(registry, func(m mutantDef) bool { return m.name == name })
	if i < 0 {
		return mutantDef{}, false
	}
	return registry[i], true
}

// Describe returns the one-line description of the named mutant's bug, or
// "" for an unknown name.
func Describe(name string) string {
	m, _ := lookup(name)
	return m.bug
}

// Expected returns the anomaly names (see check.Result) of which klcheck
// must report at least one when it runs Scenario(name) against the mutant;
// nil for an unknown name.
func Expected(name string) []string {
	m, ok := lookup(name)
	if !ok {
		return nil
	}
	return slices.Clone(m.expected)
}

//go:embed testdata/*.yaml
var scenarioFS embed.FS

// Scenario returns the YAML text of the scenario that targets the named
// mutant (internal/mutant/testdata/<name>.yaml, embedded), or "" for an
// unknown name.
func Scenario(name string) string {
	if _, ok := lookup(name); !ok {
		return ""
	}
	b, err := scenarioFS.ReadFile("testdata/" + name + ".yaml")
	if err != nil {
		return ""
	}
	return string(b)
}

// Serve runs one client of adapter protocol v1 on in/out until close or
// EOF, over the mutant log with the named bug; "" selects the correct log.
func Serve(ctx context.Context, in io.Reader, out io.Writer, name string) error {
	if name != "" {
		if _, ok := lookup(name); !ok {
			return fmt.Errorf("mutant: unknown mutant %q (known: %v)", name, Names())
		}
	}
	if err := protocol.Serve(ctx, in, out, &handler{bug: name}); err != nil {
		return fmt.Errorf("mutant %s: %w", name, err)
	}
	return nil
}
