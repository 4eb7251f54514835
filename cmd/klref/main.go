// Command klref is the reference kafka-lite log on the command line:
//
//	klref produce --dir D --topic T [--chunk-records N] [--chunk-bytes B] [--retain-chunks K] [--fsync never|always|interval] [--json]
//	klref consume --dir D --topic T [--group G] [--from earliest|latest|acked|OFFSET] [--follow] [--offsets] [--raw]
//	klref inspect --dir D --topic T [--json]
//	klref adapter
//
// produce appends each line of stdin as one message, with one write(2)
// each, so a line is in the log, whole, as soon as it is read; several
// produce processes may share a topic. consume prints one message per line
// and, with a group, acks as it goes; it reports each problem it skips on
// stderr. inspect reports chunks, offsets, groups and damage. adapter
// speaks the klcheck adapter protocol on stdin/stdout. consume and inspect
// never create a topic.
//
// Exit status: 0 ok; 1 an error, or damage found (consume skipped corrupt
// or missing records, inspect found the log damaged); 2 a usage error or no
// such topic. Torn records left by killed producers, and retention
// overtaking a consumer, are reported but are not damage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/kafka-lite/kafka-lite/internal/impl"
	"github.com/kafka-lite/kafka-lite/ref"
)

const usage = `usage:
  klref produce --dir D --topic T [options]     append each stdin line as a message
  klref consume --dir D --topic T [--group G] [--from earliest|latest|acked|OFFSET] [--follow]
  klref inspect --dir D --topic T [--json]      report chunks, groups and damage
  klref adapter                                 serve the klcheck adapter protocol on stdin/stdout
run 'klref COMMAND -h' for a command's options
` + exitStatus + "\n"

const exitStatus = `exit status: 0 ok; 1 an error, or damage found (corrupt or missing records);
2 a usage error or no such topic`

// commands are the subcommands: what each does, for its -h.
var commands = map[string]struct{ synopsis, about string }{
	"produce": {"klref produce --dir D --topic T [options]",
		"Appends each line of stdin as one message, with one write(2) each: a line is\n" +
			"in the log, whole, as soon as it is read. Several produce processes may share\n" +
			"a topic. Creates the topic if needed. Ctrl-C or SIGTERM stops it after the\n" +
			"line being appended."},
	"consume": {"klref consume --dir D --topic T [--group G] [--from earliest|latest|acked|OFFSET] [--follow]",
		"Prints one message per line. With --group, resumes after the group's last ack\n" +
			"and acks what it has printed. Each problem it skips is reported on stderr;\n" +
			"corrupt or missing records make it exit 1 at the end, after every intact\n" +
			"record was printed. Torn records (killed producers) and resets (retention)\n" +
			"are reported, not damage. --follow waits for new messages until Ctrl-C or\n" +
			"SIGTERM. The topic must exist."},
	"inspect": {"klref inspect --dir D --topic T [--json]",
		"Reports chunks, base offsets, record counts, void records, torn spans, each\n" +
			"group's position, and damage; exits 1 if the log is damaged. The topic must\n" +
			"exist; nothing is changed."},
	"adapter": {"klref adapter",
		"Serves the klcheck adapter protocol (docs/PROTOCOL.md) on stdin/stdout."},
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
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
		os.Exit(impl.Adapter(ctx, "klref adapter", os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "klref: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err, if any, and returns the exit status it means.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var nt noTopicError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, &nt):
		fmt.Fprintf(stderr, "klref: %v\n", nt)
		return 2
	case errors.As(err, &ue), errors.Is(err, ref.ErrBadName):
		fmt.Fprintf(stderr, "klref: %v\n", err)
		return 2
	case errors.Is(err, errDamaged):
		return 1 // already reported
	default:
		fmt.Fprintf(stderr, "klref: %v\n", err)
		return 1
	}
}

type usageError struct{ error }

// noTopicError is a read of a topic that does not exist.
type noTopicError struct {
	dir, topic string
	err        error // wraps ref.ErrNoTopic
}

func (e noTopicError) Error() string {
	msg := fmt.Sprintf("no such topic %q in %s", e.topic, e.dir)
	// ref says why ("... does not exist", "... holds no chunk file").
	s := e.err.Error()
	if i := strings.LastIndex(s, ref.ErrNoTopic.Error()+": "); i >= 0 {
		msg += ": " + s[i+len(ref.ErrNoTopic.Error())+2:]
	}
	return msg
}

func (e noTopicError) Unwrap() error { return e.err }

// noTopic turns an error wrapping ref.ErrNoTopic into a noTopicError.
func noTopic(err error, dir, topic string) error {
	if errors.Is(err, ref.ErrNoTopic) {
		return noTopicError{dir: dir, topic: topic, err: err}
	}
	return err
}

var (
	errDamaged = errors.New("log damaged")
	errHelp    = errors.New("help shown")
)

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

// parseFlags parses a command's flags. -h prints the command's usage on
// stdout and returns errHelp (exit 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(os.Stdout, fs)
			return errHelp
		}
		return usageError{fmt.Errorf("%s: %w (run 'klref %s -h')", fs.Name(), err, fs.Name())}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q (run 'klref %s -h')", fs.Name(), fs.Arg(0), fs.Name())}
	}
	return nil
}

func printCommandUsage(w io.Writer, fs *flag.FlagSet) {
	c := commands[fs.Name()]
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis, c.about)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\noptions:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fmt.Fprintf(w, "\n%s\n", exitStatus)
}

func (f *topicFlags) parse(fs *flag.FlagSet, args []string) (ref.Options, error) {
	if err := parseFlags(fs, args); err != nil {
		return ref.Options{}, err
	}
	if f.dir == "" || f.topic == "" {
		return ref.Options{}, usageError{fmt.Errorf("%s: --dir and --topic are required (run 'klref %s -h')", fs.Name(), fs.Name())}
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

// produce appends each stdin line as one message. The work per line is
// one append (one write(2)) and, unless --json, the line's JSON string
// encoding into a reused buffer: nothing is allocated per line.
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
	var closeOnce sync.Once
	var closeErr error
	closeProducer := func() error {
		closeOnce.Do(func() { closeErr = p.Close() })
		return closeErr
	}
	defer closeProducer()
	// A signal stops produce between two appends, even while it waits for
	// stdin: Close waits for an append in progress, and later ones fail.
	go func() {
		<-ctx.Done()
		if err := closeProducer(); err != nil {
			fmt.Fprintf(os.Stderr, "klref: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}()
	max := opts.MaxRecordSize
	if max == 0 {
		max = ref.DefaultMaxRecordSize
	}
	lines := newLineReader(os.Stdin, 6*max+16) // a line of max bytes, even when escaped
	var enc []byte
	n := 0
	for lines.next() {
		line := lines.line
		var payload []byte
		if *asJSON {
			if !json.Valid(line) {
				return fmt.Errorf("line %d is not valid JSON", n+1)
			}
			payload = line
		} else if q, ok := lines.quote(); ok {
			payload = q // plain ASCII, quoted where it lies
		} else {
			enc = appendJSONString(enc[:0], line)
			payload = enc
		}
		// The record's time is when the line was read: one clock read
		// per read of stdin, not per line, which was a twentieth of a
		// produce of 100k lines.
		if _, err := p.AppendAt(lines.readAt, payload); err != nil {
			if errors.Is(err, ref.ErrClosed) && ctx.Err() != nil {
				select {} // stopped by a signal: the goroutine above exits
			}
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		n++
	}
	if err := lines.err; err != nil {
		return fmt.Errorf("read stdin after %d lines: %w", n, err)
	}
	return closeProducer()
}

func consume(ctx context.Context, args []string) error {
	var tf topicFlags
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	tf.register(fs, false)
	group := fs.String("group", "", "consumer group: resume from its acks and ack as messages are printed")
	from := fs.String("from", "", "earliest, latest, acked, or an offset (default: acked with --group, else earliest)")
	follow := fs.Bool("follow", false, "keep waiting for new messages until Ctrl-C or SIGTERM (default: exit at the end of the log)")
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
	if !*follow {
		// It never waits, so it needs no inotify watch (whose set-up costs
		// a walk of the topic directory).
		co.Wait = ref.WaitPoll
	}
	out := &printer{w: os.Stdout, raw: *raw, offsets: *offsets, buf: make([]byte, 0, printBuffer+64<<10)}
	damage := 0
	co.OnProblem = func(p ref.Problem) {
		out.flush() // the problem shows after the records before it
		fmt.Fprintf(os.Stderr, "klref: %s\n", p)
		if p.IsDamage() {
			damage++
		}
	}
	err := consumeTo(ctx, tf, co, out, *follow)
	if ferr := out.flush(); err == nil && ferr != nil {
		err = ferr
	}
	if damage > 0 {
		what := "problems"
		if damage == 1 {
			what = "problem"
		}
		fmt.Fprintf(os.Stderr, "klref: log damaged: %d %s (above); every intact record was delivered with its offset\n", damage, what)
		if err == nil {
			err = errDamaged
		}
	}
	return err
}

// consumeTo prints the topic's records to out until the end of the log,
// or with follow until ctx is done.
func consumeTo(ctx context.Context, tf topicFlags, co ref.ConsumerOptions, out *printer, follow bool) error {
	t, err := ref.Open(tf.dir, tf.topic, ref.Options{MustExist: true})
	if err != nil {
		return noTopic(err, tf.dir, tf.topic)
	}
	defer t.Close()
	c, err := t.NewConsumer(co)
	if err != nil {
		return err
	}
	defer c.Close()
	for ctx.Err() == nil {
		recs, err := c.TryPoll(1000)
		if err == nil && len(recs) == 0 {
			// Caught up: what is printed goes out before waiting.
			if err := out.flush(); err != nil {
				return err
			}
			if !follow {
				return nil
			}
			recs, err = c.Poll(ctx, 1000)
		}
		if errors.Is(err, context.Canceled) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := out.print(recs); err != nil {
			return err
		}
		if co.Group != "" && len(recs) > 0 {
			// Ack only what is printed.
			if err := out.flush(); err != nil {
				return err
			}
			if err := c.Ack(recs[len(recs)-1].Offset); err != nil {
				return err
			}
		}
	}
	return nil
}

// printBuffer is how much output the printer gathers before one write.
const printBuffer = 256 << 10

// printer formats records, one per line, into a buffer that it writes
// when it holds printBuffer bytes: one append per record, no call per
// field.
type printer struct {
	w            io.Writer
	raw, offsets bool // print values as stored; prefix each with its offset
	buf          []byte
	scratch      []byte // decoded strings that needed a copy
	err          error  // the first write error
}

// print formats recs: each value decoded from a JSON string unless raw (a
// value that is not a valid JSON string is printed as stored).
func (p *printer) print(recs []ref.Record) error {
	for _, r := range recs {
		if p.offsets {
			p.buf = strconv.AppendInt(p.buf, r.Offset, 10)
			p.buf = append(p.buf, '\t')
		}
		v := r.Value
		if n := len(v); !p.raw && n >= 2 && v[0] == '"' {
			// The common case, a quoted run of printable ASCII, is checked
			// as it is copied; the rest goes through unquoteJSON.
			ok := false
			if v[n-1] == '"' {
				p.buf, ok = appendPlain(p.buf, v[1:n-1])
			}
			if !ok {
				if s, ok := unquoteJSON(v, &p.scratch); ok {
					v = s
				}
				p.buf = append(p.buf, v...)
			}
		} else {
			p.buf = append(p.buf, v...)
		}
		p.buf = append(p.buf, '\n')
		if len(p.buf) >= printBuffer {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes what is gathered.
func (p *printer) flush() error {
	if len(p.buf) > 0 && p.err == nil {
		if _, err := p.w.Write(p.buf); err != nil {
			p.err = fmt.Errorf("write output: %w", err)
		}
	}
	p.buf = p.buf[:0]
	return p.err
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
		return noTopic(err, tf.dir, tf.topic)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else {
		fmt.Print(rep.String())
	}
	if len(rep.Damage) > 0 {
		return errDamaged
	}
	return nil
}
