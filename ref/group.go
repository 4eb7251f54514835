package ref

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrGroupBusy is returned when another live consumer holds the group.
var ErrGroupBusy = errors.New("consumer group is in use by another live consumer")

// Ack logs. A group's position is an append-only topic of its own,
// <topic>/groups/<group>/, whose records are {"offset":N}: one append per
// ack. The last valid ack record is the position. The ack log rotates every
// ackChunkRecords acks and keeps ackRetainChunks chunks, so resuming reads
// at most two small chunks however many acks were ever written.
//
// <topic>/groups/<group>.lock is held with flock(LOCK_EX) by the live
// consumer of the group; the kernel drops it when that process dies.
const (
	groupsDir       = "groups"
	ackChunkRecords = 1024
	ackRetainChunks = 2
)

type group struct {
	name   string
	lockFD int
	acks   *Topic
	prod   *Producer
}

func openGroup(t *Topic, name string) (*group, error) {
	if err := ValidateName("group", name); err != nil {
		return nil, err
	}
	dir := filepath.Join(t.dir, groupsDir)
	if err := ensureDir(dir, t.opts.Fsync != FsyncNever); err != nil {
		return nil, fmt.Errorf("group %s: %w", name, err)
	}
	lock := filepath.Join(dir, name+".lock")
	fd, err := unix.Open(lock, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("group %s: open lock: %w", name, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("group %s of topic %s: %w", name, t.name, ErrGroupBusy)
		}
		return nil, fmt.Errorf("group %s: lock: %w", name, err)
	}
	acks, err := Open(dir, name, Options{
		ChunkRecords:  ackChunkRecords,
		RetainChunks:  ackRetainChunks,
		Fsync:         t.opts.Fsync,
		FsyncInterval: t.opts.FsyncInterval,
		AllowUnsafeFS: t.opts.AllowUnsafeFS,
	})
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("group %s: ack log: %w", name, err)
	}
	prod, err := acks.NewProducer()
	if err != nil {
		acks.Close()
		unix.Close(fd)
		return nil, fmt.Errorf("group %s: %w", name, err)
	}
	return &group{name: name, lockFD: fd, acks: acks, prod: prod}, nil
}

func (g *group) ack(offset int64) error {
	payload := strconv.AppendInt([]byte(`{"offset":`), offset, 10)
	payload = append(payload, '}')
	if _, err := g.prod.Append(payload); err != nil {
		return fmt.Errorf("ack %d in group %s: %w", offset, g.name, err)
	}
	return nil
}

type ackPayload struct {
	Offset *int64 `json:"offset"`
}

// lastAck returns the group's position: the last valid ack record.
func (g *group) lastAck() (int64, bool, error) {
	return lastAckIn(g.acks)
}

// lastAckIn reads an ack log from its newest chunk back until it finds an
// ack. Retention keeps the log to a few chunks, so this is bounded.
func lastAckIn(acks *Topic) (int64, bool, error) {
	chunks, err := acks.chunks()
	if err != nil {
		return 0, false, err
	}
	for i := len(chunks) - 1; i >= 0; i-- {
		data, err := os.ReadFile(acks.chunkPath(chunks[i]))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("read ack chunk %d: %w", chunks[i], err)
		}
		var last *int64
		for p := 0; p < len(data); {
			step, n, fr, _, _ := scanOne(data[p:])
			if step == stepPartial {
				break
			}
			if step == stepRecord && fr.kind == kindSeal {
				break
			}
			if step == stepRecord && fr.kind == kindData {
				var a ackPayload
				if json.Unmarshal(fr.payload, &a) == nil && a.Offset != nil {
					last = a.Offset
				}
			}
			p += n
		}
		if last != nil {
			return *last, true, nil
		}
	}
	return 0, false, nil
}

func (g *group) close() error {
	err := g.prod.Close()
	if cerr := g.acks.Close(); err == nil {
		err = cerr
	}
	if cerr := unix.Close(g.lockFD); err == nil {
		err = cerr
	}
	return err
}

// groupLocked reports whether a live consumer holds the group lock file.
func groupLocked(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true
	}
	_ = unix.Flock(fd, unix.LOCK_UN)
	return false
}
