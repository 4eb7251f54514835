// Command clibare is the bare limit of klbench's cli experiment: the least
// a process can do that reads what klref reads and writes what it writes.
//
//	clibare produce FILE       one O_APPEND write(2) to FILE per line of stdin
//	clibare consume FILE...    read each FILE, split it at '\n', print each line (buffered)
//
// It imports only the standard library and does no work at start-up, so
// that its process start is that of the smallest Go program. klbench
// embeds this file and builds it with `go build` (docs/BENCH.md); klbench
// itself starts about 4 ms slower than this, which would flatter klref.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 3 || (os.Args[1] == "produce" && len(os.Args) != 3) {
		fmt.Fprintln(os.Stderr, "usage: clibare produce FILE | clibare consume FILE...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "produce":
		err = produce(os.Args[2])
	case "consume":
		err = consume(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "clibare: %v\n", err)
		os.Exit(1)
	}
}

// produce appends each stdin line, with its '\n', to path with one write(2)
// each, as klref produce appends each line as one record.
func produce(path string) error {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer syscall.Close(fd)
	in := bufio.NewReaderSize(os.Stdin, 64<<10)
	var long []byte // a line longer than the reader's buffer, gathered
	for n := 1; ; n++ {
		line, err := in.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			n--
			continue
		}
		if len(long) > 0 {
			line = append(long, line...)
			long = long[:0]
		}
		if len(line) > 0 {
			if _, werr := syscall.Write(fd, line); werr != nil {
				return fmt.Errorf("line %d: %w", n, werr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stdin, line %d: %w", n, err)
		}
	}
}

// consume reads each file through one 1 MiB buffer (grown for a longer
// line), as klref's consumer reads chunks, and prints each line through a
// 256 KiB buffer, as klref consume does.
func consume(paths []string) error {
	out := bufio.NewWriterSize(os.Stdout, 256<<10)
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		var err error
		if buf, err = split(p, buf, out); err != nil {
			return err
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

// split writes each line of the file path to out, reading through buf,
// and returns buf (grown if a line needed it).
func split(path string, buf []byte, out *bufio.Writer) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	have := 0
	for {
		m, err := f.Read(buf[have:])
		have += m
		data := buf[:have]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			out.Write(data[:i+1])
			data = data[i+1:]
		}
		have = copy(buf, data)
		if err == io.EOF || (m == 0 && err == nil) {
			return buf, nil
		}
		if err != nil {
			return buf, fmt.Errorf("read %s: %w", path, err)
		}
		if have == len(buf) {
			buf = append(buf, make([]byte, len(buf))...) // a line longer than the buffer
		}
	}
}
