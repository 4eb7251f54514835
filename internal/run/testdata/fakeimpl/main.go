// Command fakeimpl is a test-only adapter for klcheck's orchestrator tests.
// With --mode ok it is a small correct log: one file of framed records
// under an flock, and one ack file per group. The other modes misbehave in
// one way each.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

func main() {
	mode := flag.String("mode", "ok", "ok, stray-write (ok, but also writes next to its directory), garbage, exit-early, hang, wrong-id, huge-line, unsupported, slow-init, refuse-init (ok:false with --code and --reason)")
	stallAt := flag.Int64("stall-at", -1, "ok mode: drain consumers never get past this offset (a stuck reader)")
	code := flag.String("code", "", "refuse-init mode: the code of the refusal (empty: none)")
	reason := flag.String("reason", "", "refuse-init mode, and ok mode with --refuse-appends: the reason of the refusal (empty: none)")
	refuseAppends := flag.Bool("refuse-appends", false, "ok mode: answer every append ok:false with code error and --reason")
	flag.Parse()
	fmt.Fprintf(os.Stderr, "fakeimpl: mode %s, pid %d\n", *mode, os.Getpid())
	if *mode == "ok" || *mode == "stray-write" {
		h := &handler{stallAt: *stallAt, stray: *mode == "stray-write"}
		if *refuseAppends {
			h.refuse = errors.New(*reason)
		}
		if err := protocol.Serve(context.Background(), os.Stdin, os.Stdout, h); err != nil {
			fmt.Fprintf(os.Stderr, "fakeimpl: %v\n", err)
			os.Exit(1)
		}
		return
	}
	br := bufio.NewReader(os.Stdin)
	line, err := br.ReadBytes('\n')
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakeimpl: read: %v\n", err)
		os.Exit(1)
	}
	var req protocol.Request
	if err := json.Unmarshal(line, &req); err != nil {
		fmt.Fprintf(os.Stderr, "fakeimpl: decode: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "fakeimpl: got %s request %d\n", req.Op, req.ID)
	switch *mode {
	case "garbage":
		fmt.Println("hello, this is not JSON")
	case "exit-early":
		fmt.Fprintln(os.Stderr, "fakeimpl: giving up before init")
		os.Exit(3)
	case "hang":
		fmt.Fprintln(os.Stderr, "fakeimpl: hanging")
		time.Sleep(time.Hour)
	case "wrong-id":
		fmt.Printf("{\"id\":%d,\"ok\":true,\"impl\":\"fake\"}\n", req.ID+100)
	case "huge-line":
		w := bufio.NewWriterSize(os.Stdout, 1<<20)
		w.WriteString(`{"id":1,"ok":true,"impl":"`)
		chunk := strings.Repeat("x", 1<<20)
		for range 100 {
			if _, err := w.WriteString(chunk); err != nil {
				os.Exit(1)
			}
		}
		w.WriteString("\"}\n")
		w.Flush()
	case "unsupported":
		fmt.Printf("{\"id\":%d,\"ok\":false,\"code\":\"unsupported\",\"error\":\"fsync modes are not supported\"}\n", req.ID)
	case "refuse-init":
		b, _ := json.Marshal(protocol.Reply{ID: req.ID, OK: false, Code: *code, Error: *reason})
		fmt.Printf("%s\n", b)
	case "slow-init":
		time.Sleep(30 * time.Second)
		fmt.Printf("{\"id\":%d,\"ok\":true,\"impl\":\"fake\"}\n", req.ID)
	default:
		fmt.Fprintf(os.Stderr, "fakeimpl: unknown mode %q\n", *mode)
		os.Exit(2)
	}
	// Wait for the harness to close stdin or kill us.
	_, _ = io.Copy(io.Discard, br)
}

// handler is the correct fake log. The log is dir/topic/log: records
// framed as an 8-hex-digit length, the value and a newline. Appends hold an
// exclusive flock on dir/topic/lock and first cut off a torn tail that a
// killed writer left; readers only use complete frames.
type handler struct {
	dir     string
	role    string
	group   string
	file    *os.File // the log, for readers
	pos     int64    // readers: byte position of the next record
	next    int64    // readers: offset of the next record
	scanPos int64    // writers: a known frame boundary and its offset
	scanOff int64
	stallAt int64 // >= 0: a drain consumer stops at this offset
	client  string
	stray   bool  // write a file next to the directory given in init
	refuse  error // refuse every append with this error (nil: never)
}

func (h *handler) Init(req *protocol.Request) (string, error) {
	if h.stray {
		if err := os.WriteFile(filepath.Join(req.Dir, "..", "stray-"+req.Client), []byte("oops"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "fakeimpl:", err)
		}
	}
	if req.Config != nil && req.Config.Fsync == protocol.FsyncInterval {
		return "", protocol.Unsupported("fsync interval")
	}
	h.dir = filepath.Join(req.Dir, req.Topic)
	h.role, h.group, h.client = req.Role, req.Group, req.Client
	if err := os.MkdirAll(filepath.Join(h.dir, "groups"), 0o755); err != nil {
		return "", err
	}
	f, err := os.OpenFile(filepath.Join(h.dir, "log"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	h.file = f
	if h.role == protocol.RoleConsumer {
		switch req.Start {
		case protocol.StartEarliest:
		case protocol.StartLatest:
			if err := h.withLock(func() error {
				_, err := h.skipTo(-1)
				return err
			}); err != nil {
				return "", err
			}
		default:
			acked, err := h.readAck()
			if err != nil {
				return "", err
			}
			if _, err := h.skipTo(acked + 1); err != nil {
				return "", err
			}
		}
	}
	return "fakeimpl 0.1", nil
}

func (h *handler) withLock(fn func() error) error {
	lf, err := os.OpenFile(filepath.Join(h.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return fn()
}

// frame reads the frame at pos: its value and the next position; ok is
// false when no complete frame is there.
func (h *handler) frame(pos int64) (string, int64, bool, error) {
	var head [8]byte
	if _, err := h.file.ReadAt(head[:], pos); err != nil {
		if errors.Is(err, io.EOF) {
			return "", 0, false, nil
		}
		return "", 0, false, err
	}
	n, err := strconv.ParseUint(string(head[:]), 16, 32)
	if err != nil {
		return "", 0, false, fmt.Errorf("corrupt frame at %d", pos)
	}
	buf := make([]byte, n+1)
	if _, err := h.file.ReadAt(buf, pos+8); err != nil {
		if errors.Is(err, io.EOF) {
			return "", 0, false, nil
		}
		return "", 0, false, err
	}
	if buf[n] != '\n' {
		return "", 0, false, nil
	}
	return string(buf[:n]), pos + 8 + int64(n) + 1, true, nil
}

// skipTo moves a reader to offset off (-1: the end) and returns the
// offset it reached.
func (h *handler) skipTo(off int64) (int64, error) {
	for off < 0 || h.next < off {
		_, np, ok, err := h.frame(h.pos)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		h.pos, h.next = np, h.next+1
	}
	return h.next, nil
}

func (h *handler) Append(values []string) ([]*int64, error) {
	if h.refuse != nil {
		return nil, h.refuse
	}
	var offs []*int64
	err := h.withLock(func() error {
		for {
			_, np, ok, err := h.frame(h.scanPos)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			h.scanPos, h.scanOff = np, h.scanOff+1
		}
		if err := h.file.Truncate(h.scanPos); err != nil {
			return err
		}
		var b []byte
		for i, v := range values {
			b = append(b, fmt.Sprintf("%08x", len(v))...)
			b = append(b, v...)
			b = append(b, '\n')
			offs = append(offs, protocol.Int64(h.scanOff+int64(i)))
		}
		if _, err := h.file.WriteAt(b, h.scanPos); err != nil {
			return err
		}
		h.scanPos += int64(len(b))
		h.scanOff += int64(len(values))
		return nil
	})
	return offs, err
}

func (h *handler) Poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	deadline := time.Now().Add(timeout)
	for {
		var recs []protocol.Record
		for len(recs) < max {
			if h.stallAt >= 0 && h.next >= h.stallAt && strings.HasPrefix(h.client, "drain-") {
				break
			}
			v, np, ok, err := h.frame(h.pos)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			recs = append(recs, protocol.Record{Offset: h.next, Value: v})
			h.pos, h.next = np, h.next+1
		}
		if len(recs) > 0 || time.Now().After(deadline) {
			return recs, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *handler) ackPath() string { return filepath.Join(h.dir, "groups", h.group+".ack") }

func (h *handler) readAck() (int64, error) {
	b, err := os.ReadFile(h.ackPath())
	if errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func (h *handler) Ack(offset int64) error {
	tmp := h.ackPath() + fmt.Sprintf(".%d.tmp", os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(offset, 10)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, h.ackPath())
}

func (h *handler) Close() error {
	if h.file != nil {
		return h.file.Close()
	}
	return nil
}
