package lazyfs

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkAppend measures what the FUSE layer costs a 100 B O_APPEND
// write(2): on the backing directory directly, and through the mount, each
// without and with an fdatasync after every write. "lazyfs-syncbacking"
// also passes the fdatasync to the backing file (Options.SyncBacking).
// docs/LAZYFS.md gives the figures.
func BenchmarkAppend(b *testing.B) {
	rec := make([]byte, 100)
	copy(rec, gen(1, 99))
	rec[99] = '\n'
	for _, where := range []string{"direct", "lazyfs", "lazyfs-syncbacking"} {
		for _, sync := range []bool{false, true} {
			if where == "lazyfs-syncbacking" && !sync {
				continue
			}
			name := where + "/write"
			if sync {
				name += "+fdatasync"
			}
			b.Run(name, func(b *testing.B) {
				dir := b.TempDir()
				if where != "direct" {
					f := mountT(b, nil, Options{SyncBacking: where == "lazyfs-syncbacking"})
					dir = f.Mountpoint()
				}
				fd, err := unix.Open(filepath.Join(dir, "a.log"), unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				defer unix.Close(fd)
				b.SetBytes(int64(len(rec)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := unix.Write(fd, rec); err != nil {
						b.Fatal(err)
					}
					if sync {
						if err := unix.Fdatasync(fd); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
			})
		}
	}
}
