package bench

import (
	"bytes"
	"context"
	_ "embed" // the bare limit's source
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The cli experiment times the klref command a user runs, as whole
// processes, start included:
//
//	klref produce --dir D --topic T < LINES      (--count lines of --size bytes)
//	klref consume --dir D --topic T > /dev/null
//
// beside the bare limit of each, a small Go program (clibare) doing the
// same I/O with nothing else: one O_APPEND write(2) per stdin line, and a
// read of the chunks, split at '\n', with each line printed through a
// buffer.

// Targets of the cli experiment: klref's rate as a fraction of the bare
// process's.
const (
	cliProduceTarget = 0.7
	cliConsumeTarget = 0.5
)

//go:embed clibare/main.go
var clibareSource []byte

// cliTools are the two programs the cli experiment runs.
type cliTools struct {
	klref    string // the klref binary
	klrefHow string // how it was found, for the report
	bare     string // the clibare binary
}

// findCLITools builds clibare into dir and finds klref: the path given
// (--klref), else a build of ./cmd/klref when klbench runs inside this
// module's tree, else klref on PATH.
func findCLITools(ctx context.Context, dir, klref string) (*cliTools, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return nil, fmt.Errorf("cli: the bare limit is built with go, and go is not on PATH: %w", err)
	}
	tools := &cliTools{}
	switch {
	case klref != "":
		p, err := exec.LookPath(klref)
		if err != nil {
			return nil, fmt.Errorf("--klref %s: %w", klref, err)
		}
		tools.klref, tools.klrefHow = p, "given with --klref: "+p
	default:
		if root, ok := moduleRoot(); ok {
			tools.klref = filepath.Join(dir, "klref")
			if err := goBuild(ctx, root, tools.klref, "./cmd/klref"); err != nil {
				return nil, fmt.Errorf("cli: build klref (or pass --klref PATH): %w", err)
			}
			tools.klrefHow = "built with go build from " + filepath.Join(root, "cmd", "klref")
			break
		}
		p, err := exec.LookPath("klref")
		if err != nil {
			return nil, errors.New("cli: no klref: klbench is not run inside the kafka-lite module (where it builds ./cmd/klref) and klref is not on PATH; pass --klref PATH")
		}
		tools.klref, tools.klrefHow = p, "found on PATH: "+p
	}
	var err error
	if tools.bare, err = buildBare(ctx, dir); err != nil {
		return nil, err
	}
	return tools, nil
}

// moduleRoot finds the kafka-lite module from the working directory up.
func moduleRoot() (string, bool) {
	d, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			return d, strings.TrimSpace(first) == "module github.com/kafka-lite/kafka-lite"
		}
		up := filepath.Dir(d)
		if up == d {
			return "", false
		}
		d = up
	}
}

// buildBare builds clibare, from the copy of its source in klbench, into
// dir: a module of its own with only the standard library, so it builds
// wherever klbench runs.
func buildBare(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "clibare-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("cli: %w", err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module clibare\n\ngo 1.22\n"), 0o644); err != nil {
		return "", fmt.Errorf("cli: %w", err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), clibareSource, 0o644); err != nil {
		return "", fmt.Errorf("cli: %w", err)
	}
	out := filepath.Join(dir, "clibare")
	if err := goBuild(ctx, src, out, "."); err != nil {
		return "", fmt.Errorf("cli: build the bare limit: %w", err)
	}
	return out, nil
}

func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s in %s: %w: %s", pkg, dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// timeProcess runs argv with stdin from the file in (none if ""), stdout
// to the file out (/dev/null if "") and returns its wall time from start
// to exit. Every descriptor is a file, so no goroutine of klbench copies
// a pipe while it runs. A failure carries the end of its stderr.
func timeProcess(ctx context.Context, argv []string, in, out string) (int64, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if out == "" {
		out = os.DevNull
	}
	of, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer of.Close()
	ef, err := os.CreateTemp("", "klbench-cli-stderr-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(ef.Name())
	defer ef.Close()
	cmd.Stdout, cmd.Stderr = of, ef
	cmd.WaitDelay = 5 * time.Second
	t0 := mono()
	err = cmd.Run()
	el := mono() - t0
	if err != nil {
		msg, _ := os.ReadFile(ef.Name())
		s := strings.TrimSpace(string(msg))
		if len(s) > 600 {
			s = "…" + s[len(s)-600:]
		}
		return 0, fmt.Errorf("%s: %w; stderr: %s", shellJoin(argv), err, s)
	}
	return el, nil
}

// cliRep runs one repetition of the cli experiment in rdir: the bare
// produce, klref produce, the bare consume and klref consume of what klref
// produced, each consume the best of three runs over a warm page cache.
// check also verifies, untimed, that klref consume prints every line.
func (s *suite) cliRep(ctx context.Context, tag, rdir, lines string, check bool) error {
	pr := s.params
	t := s.cli
	dir := filepath.Join(rdir, "cli")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.stepf("%s: cli produce, bare process", tag)
	rawNs, err := timeProcess(ctx, []string{t.bare, "produce", filepath.Join(dir, "bare.log")}, lines, "")
	if err != nil {
		return fmt.Errorf("bare produce: %w", err)
	}
	s.col.add(timeKey(expCLIProduce, implRaw), ms(rawNs))
	s.stepf("%s: cli produce, klref", tag)
	el, err := timeProcess(ctx, []string{t.klref, "produce", "--dir", dir, "--topic", topicName}, lines, "")
	if err != nil {
		return fmt.Errorf("klref produce: %w", err)
	}
	s.col.add(timeKey(expCLIProduce, "klref"), ms(el))
	s.col.add(ratioKey(expCLIProduce, "klref"), float64(rawNs)/float64(el))
	chunks, err := refChunks(filepath.Join(dir, topicName))
	if err != nil {
		return fmt.Errorf("klref produce: %w", err)
	}
	// A header per chunk, a seal per chunk but the last, and the records
	// (one producer leaves no void records).
	if n, err := countLines(chunks...); err != nil || n != pr.Count+2*len(chunks)-1 {
		return fmt.Errorf("klref produce: %d chunks hold %d lines (%v), want %d records, %d headers and %d seals",
			len(chunks), n, err, pr.Count, len(chunks), len(chunks)-1)
	}

	s.stepf("%s: cli consume, bare process", tag)
	var rawRead int64
	for range 3 {
		t, err := timeProcess(ctx, append([]string{s.cli.bare, "consume"}, chunks...), "", "")
		if err != nil {
			return fmt.Errorf("bare consume: %w", err)
		}
		if rawRead == 0 || t < rawRead {
			rawRead = t
		}
	}
	s.col.add(timeKey(expCLIConsume, implRaw), ms(rawRead))
	s.stepf("%s: cli consume, klref", tag)
	consume := []string{t.klref, "consume", "--dir", dir, "--topic", topicName}
	// Timed as the limit is, the best of three: a single run against the
	// limit's best measured the machine's noise as klref's cost.
	el = 0
	for range 3 {
		t, err := timeProcess(ctx, consume, "", "")
		if err != nil {
			return fmt.Errorf("klref consume: %w", err)
		}
		if el == 0 || t < el {
			el = t
		}
	}
	s.col.add(timeKey(expCLIConsume, "klref"), ms(el))
	s.col.add(ratioKey(expCLIConsume, "klref"), float64(rawRead)/float64(el))
	if check {
		out := filepath.Join(dir, "consumed")
		if _, err := timeProcess(ctx, consume, "", out); err != nil {
			return fmt.Errorf("klref consume: %w", err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(lines)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("klref consume printed %d lines (%d bytes), not the %d lines produced", bytes.Count(got, []byte("\n")), len(got), pr.Count)
		}
	}
	return os.RemoveAll(dir)
}

// countLines counts the '\n' in files.
func countLines(paths ...string) (int, error) {
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return n, err
		}
		n += bytes.Count(b, []byte("\n"))
	}
	return n, nil
}
