package ref

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The benchmarks compare the reference with its physical limit in the same
// run, as the speed goals require: run
//
//	go test -run '^$' -bench . -count 5 ./ref
//
// and compare Produce/ref with Produce/raw-write (goal: at least 0.5× the
// rate) and Read/ref with Read/raw-read-split (goal: at least 0.3×).
// klbench prints the same ratios for the whole system.

const benchRecords = 100_000

// benchPayload is about 100 bytes framed, like the original experiment's
// JSON messages.
var benchPayload = []byte(`{"id":12345,"type":"order","amount":99.5,"currency":"EUR","x":"abc"}`)

func BenchmarkProduce(b *testing.B) {
	framed := appendFrame(nil, kindData, 1732540800123456789, benchPayload)
	b.Run("raw-write", func(b *testing.B) {
		b.SetBytes(int64(len(framed)) * benchRecords)
		for b.Loop() {
			b.StopTimer()
			path := filepath.Join(b.TempDir(), "raw")
			fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for range benchRecords {
				if _, err := unix.Write(fd, framed); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			unix.Close(fd)
			b.StartTimer()
		}
	})
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(int64(len(framed)) * benchRecords)
		for b.Loop() {
			b.StopTimer()
			tp, err := Open(b.TempDir(), "t", Options{ChunkBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			p, _ := tp.NewProducer()
			b.StartTimer()
			for range benchRecords {
				if _, err := p.Append(benchPayload); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			p.Close()
			tp.Close()
			b.StartTimer()
		}
	})
}

func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	tp, err := Open(dir, "t", Options{ChunkBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer tp.Close()
	p, _ := tp.NewProducer()
	for range benchRecords {
		if _, err := p.Append(benchPayload); err != nil {
			b.Fatal(err)
		}
	}
	p.Close()
	path := tp.chunkPath(0)
	st, _ := os.Stat(path)
	b.Run("raw-read-split", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for len(data) > 0 {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				n++
				data = data[i+1:]
			}
			if n != benchRecords+1 {
				b.Fatalf("split %d lines", n)
			}
		}
	})
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for n < benchRecords {
				recs, err := c.TryPoll(10_000)
				if err != nil || len(recs) == 0 {
					b.Fatal(fmt.Sprint("read stopped early: ", err))
				}
				n += len(recs)
			}
			c.Close()
		}
	})
}
