// Package lazyfs is a FUSE pass-through file system that remembers which
// writes were never made durable, so that a test can simulate a power loss
// under any program, in any language, that keeps its files in a directory.
//
// It is modelled on LazyFS (dsrhaslab/lazyfs), which Jepsen used to show
// NATS JetStream losing acknowledged writes on power loss. docs/LAZYFS.md
// explains the design and gives the measured costs.
//
// # Use
//
//	fsys, err := lazyfs.Mount(backing, mountpoint, lazyfs.Options{})
//	// run processes on mountpoint; SIGKILL and reap all of them
//	rep, err := fsys.PowerLoss(lazyfs.LoseAll, nil)
//	// backing now holds what a machine that lost power would hold;
//	// mountpoint is mounted again for restarted processes
//	err = fsys.Unmount()
//
// Mounting needs Linux, /dev/fuse and root (or CAP_SYS_ADMIN): the mount is
// made with mount(2) directly, with no fusermount. Available says why it
// cannot be used, so that tests can skip with that reason.
//
// # What is durable when
//
// The backing directory plays the disk and the mount plays the page cache.
// Every operation is passed through to the backing directory at once, so
// reads, mmap, O_APPEND and inotify work as usual, and lazyfs keeps an undo
// record of the durable state:
//
//   - A file's data is durable up to its size at its last fsync or
//     fdatasync, called on any descriptor of the file (msync and O_SYNC or
//     O_DSYNC writes reach lazyfs as fsync). Bytes appended since are
//     unsynced; so are the old contents of bytes overwritten, truncated or
//     punched since, which lazyfs copies aside before the change.
//   - Writes through a shared mapping count when the kernel writes the dirty
//     pages back (msync, memory pressure, the periodic flusher, or the
//     unmount that starts a power loss).
//   - A directory entry (create, mkdir, mknod, symlink, link, rename, unlink,
//     rmdir) is durable once the directory that holds it is fsynced. A
//     rename between directories needs the fsync of both: until the source
//     directory is synced the old name survives a power loss too, and until
//     the target is, the new name does not. Entries removed or replaced
//     since their directory's last fsync are kept in a hidden stash
//     (".lazyfs-stash" at the top of the backing directory, never shown in
//     the mount) until that fsync.
//   - Whatever existed in the backing directory when it was mounted, or
//     after a power loss, is durable.
//   - sync(2), syncfs(2) and sync_file_range(2) do not reach a FUSE file
//     system and make nothing durable. Metadata (mode, owner, times,
//     extended attributes) is passed through and never rolled back.
//
// # Power loss
//
// PowerLoss unmounts the file system (it refuses, with ErrBusy, while any
// process still has a file, a mapping or its working directory on the
// mount), rebuilds the backing directory as a machine that lost power would
// find it, and mounts it again. In every mode, each directory gets back its
// durable entries exactly: unsynced creations, renames and removals are
// undone. The modes differ in what happens to unsynced file data:
//
//   - LoseAll: every file is cut back to its durable size and its
//     overwritten durable bytes are put back.
//   - TornSeq: as LoseAll, but each file keeps a random prefix (0 to all
//     bytes) of the bytes appended since its last sync, as if the device
//     wrote them in order and stopped.
//   - TornOp: every unsynced write of a file survives except its last one,
//     which is split at 512 B or 4 KiB boundaries (chosen at random per
//     file); a random part of the pieces survives, the others read as
//     zeros (or as their old bytes) or are cut off at the end of the file.
//
// "The last write" is the last write request lazyfs received for the file.
// The kernel sends a write(2) as one request unless it is larger than
// Options.MaxWrite or starts inside a page that is not in its cache; then
// the head up to the page boundary comes first, as a request of its own.
//
// The process that mounts lazyfs serves it: it must not fault on a shared
// mapping of a file on the mount (ref maps its control file, so it must
// not open a topic there in-process). A page fault is not a system call:
// the faulting thread keeps its P and blocks until the server answers,
// and a garbage collection's stop-the-world then waits for that thread
// while the server's goroutines wait for the world to start again. A
// -race run of a test that did this hung, and its process could not even
// exit. Run whatever uses the files in other processes, as klcheck does.
//
// Writes that would bypass the record are refused or diverted: O_TMPFILE
// fails with EOPNOTSUPP, ioctl with ENOTTY, and copy_file_range falls back
// to plain reads and writes. Kernel FUSE passthrough is switched off. The
// backing directory must not be changed behind the mount's back.
package lazyfs
