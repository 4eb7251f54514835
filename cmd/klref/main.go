// Command klref is the reference kafka-lite log on the command line:
//
//	klref produce --dir D --topic T [--chunk-records N] [--chunk-bytes B] [--retain-chunks K] [--fsync never|always|interval]
//	klref consume --dir D --topic T [--group G] [--from earliest|latest|acked|OFFSET] [--follow]
//	klref inspect --dir D --topic T [--json]
//	klref adapter
//
// produce appends each line of stdin as one message; several produce
// processes may share a topic. consume prints one message per line and, with
// a group, acks as it goes. inspect reports chunks, offsets, groups and
// damage, and exits 1 if the log is damaged. adapter speaks the klcheck
// adapter protocol on stdin/stdout.
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
	"os/signal"
	"strconv"
	"syscall"

	"github.com/kafka-lite/kafka-lite/internal/refadapter"
	"github.com/kafka-lite/kafka-lite/ref"
)

const usage = `usage:
  klref produce --dir D --topic T [options]     append each stdin line as a message
  klref consume --dir D --topic T [--group G] [--from earliest|latest|acked|OFFSET] [--follow]
  klref inspect --dir D --topic T [--json]      report chunks, groups and damage (exit 1 if damaged)
  klref adapter                                 serve the klcheck adapter protocol on stdin/stdout
run 'klref COMMAND -h' for a command's options`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "produce":
		err = produce(ctx, os.Args[2:])
	case "consume":
		err = consume(ctx, os.Args[2:])
	case "inspect":
		err = inspect(os.Args[2:])
	case "adapter":
		err = adapter(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Println(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "klref: unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue), errors.Is(err, ref.ErrBadName):
		fmt.Fprintf(os.Stderr, "klref: %v\n", err)
		os.Exit(2)
	case errors.Is(err, errDamaged):
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "klref: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

var errDamaged = errors.New("log damaged")

// topicFlags are the flags every command shares.
type topicFlags struct {
	dir, topic, fsync                     string
	chunkRecords, retainChunks, maxRecord int
	chunkBytes, retainBytes               int64
	allowUnsafe                           bool
}

func (f *topicFlags) register(fs *flag.FlagSet, withOptions bool) {
	fs.StringVar(&f.dir, "dir", "", "directory that holds the topic (required)")
	fs.StringVar(&f.topic, "topic", "", "topic name: letters, digits, '.', '_', '-' (required)")
	if !withOptions {
		return
	}
	fs.IntVar(&f.chunkRecords, "chunk-records", 0, "rotate the chunk after about N records (0 = no limit)")
	fs.Int64Var(&f.chunkBytes, "chunk-bytes", 0, "rotate the chunk after about B bytes (0 = 64 MiB)")
	fs.IntVar(&f.retainChunks, "retain-chunks", 0, "keep at most K chunks (0 = all)")
	fs.Int64Var(&f.retainBytes, "retain-bytes", 0, "keep at most about B bytes of chunks (0 = all)")
	fs.StringVar(&f.fsync, "fsync", "never", "never, always (fdatasync per append) or interval (every 100 ms)")
	fs.IntVar(&f.maxRecord, "max-record", 0, "refuse records over this many bytes (0 = 1 MiB)")
	fs.BoolVar(&f.allowUnsafe, "allow-unsafe-fs", false, "allow NFS/CIFS/FUSE, where appends may interleave")
}

func (f *topicFlags) parse(fs *flag.FlagSet, args []string) (ref.Options, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			os.Exit(0)
		}
		return ref.Options{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return ref.Options{}, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if f.dir == "" || f.topic == "" {
		return ref.Options{}, usageError{errors.New("--dir and --topic are required")}
	}
	if f.fsync == "" {
		f.fsync = string(ref.FsyncNever)
	}
	mode, err := ref.ParseFsyncMode(f.fsync)
	if err != nil {
		return ref.Options{}, usageError{err}
	}
	return ref.Options{
		ChunkRecords: f.chunkRecords, ChunkBytes: f.chunkBytes,
		RetainChunks: f.retainChunks, RetainBytes: f.retainBytes,
		Fsync: mode, MaxRecordSize: f.maxRecord, AllowUnsafeFS: f.allowUnsafe,
	}, nil
}

func produce(ctx context.Context, args []string) error {
	var tf topicFlags
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	tf.register(fs, true)
	asJSON := fs.Bool("json", false, "each line is a JSON value, stored as is (default: each line is stored as a JSON string)")
	opts, err := tf.parse(fs, args)
	if err != nil {
		return err
	}
	t, err := ref.Open(tf.dir, tf.topic, opts)
	if err != nil {
		return err
	}
	defer t.Close()
	p, err := t.NewProducer()
	if err != nil {
		return err
	}
	max := opts.MaxRecordSize
	if max == 0 {
		max = ref.DefaultMaxRecordSize
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64<<10), 6*max+16) // a line of max bytes, even when escaped
	n := 0
	for sc.Scan() {
		if ctx.Err() != nil {
			break
		}
		line := sc.Bytes()
		var payload []byte
		if *asJSON {
			if !json.Valid(line) {
				p.Close()
				return fmt.Errorf("line %d is not valid JSON", n+1)
			}
			payload = line
		} else {
			payload, _ = json.Marshal(string(line))
		}
		if _, err := p.Append(payload); err != nil {
			p.Close()
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		p.Close()
		return fmt.Errorf("read stdin after %d lines: %w", n, err)
	}
	return p.Close()
}

func consume(ctx context.Context, args []string) error {
	var tf topicFlags
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	tf.register(fs, false)
	group := fs.String("group", "", "consumer group: resume from its acks and ack as messages are printed")
	from := fs.String("from", "", "earliest, latest, acked, or an offset (default: acked with --group, else earliest)")
	follow := fs.Bool("follow", false, "keep waiting for new messages (default: exit at the end of the log)")
	raw := fs.Bool("raw", false, "print payloads as stored JSON instead of decoding JSON strings")
	offsets := fs.Bool("offsets", false, "prefix each message with its offset and a tab")
	if _, err := tf.parse(fs, args); err != nil {
		return err
	}
	co := ref.ConsumerOptions{Group: *group, From: ref.FromEarliest}
	switch *from {
	case "":
		if *group != "" {
			co.From = ref.FromAcked
		}
	case "earliest":
	case "latest":
		co.From = ref.FromLatest
	case "acked":
		co.From = ref.FromAcked
	default:
		off, err := strconv.ParseInt(*from, 10, 64)
		if err != nil || off < 0 {
			return usageError{fmt.Errorf("--from %q: want earliest, latest, acked or an offset", *from)}
		}
		co.From, co.Offset = ref.FromOffset, off
	}
	co.OnProblem = func(p ref.Problem) {
		fmt.Fprintf(os.Stderr, "klref: chunk %d byte %d: skipped %s span of %d bytes: %s\n", p.Chunk, p.Pos, p.Kind, p.Length, p.Detail)
	}
	t, err := ref.Open(tf.dir, tf.topic, ref.Options{})
	if err != nil {
		return err
	}
	defer t.Close()
	c, err := t.NewConsumer(co)
	if err != nil {
		return err
	}
	defer c.Close()
	out := bufio.NewWriterSize(os.Stdout, 256<<10)
	defer out.Flush()
	for {
		var recs []ref.Record
		if *follow {
			recs, err = c.Poll(ctx, 1000)
		} else {
			recs, err = c.TryPoll(1000)
		}
		if errors.Is(err, context.Canceled) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		for _, r := range recs {
			if *offsets {
				out.WriteString(strconv.FormatInt(r.Offset, 10))
				out.WriteByte('\t')
			}
			var s string
			if !*raw && len(r.Value) > 0 && r.Value[0] == '"' && json.Unmarshal(r.Value, &s) == nil {
				out.WriteString(s)
			} else {
				out.Write(r.Value)
			}
			out.WriteByte('\n')
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if *group != "" {
			if err := c.Ack(recs[len(recs)-1].Offset); err != nil {
				return err
			}
		}
	}
}

func inspect(args []string) error {
	var tf topicFlags
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	tf.register(fs, false)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, err := tf.parse(fs, args); err != nil {
		return err
	}
	rep, err := ref.Inspect(tf.dir, tf.topic)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Print(rep.String())
	}
	if len(rep.Damage) > 0 {
		return errDamaged
	}
	return nil
}

func adapter(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("adapter", flag.ContinueOnError)
	mutant := fs.String("mutant", "", "serve a deliberately broken variant (for checker tests)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	err := refadapter.Serve(ctx, os.Stdin, os.Stdout, *mutant)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil // the harness closed stdin without a close request
	}
	return err
}
