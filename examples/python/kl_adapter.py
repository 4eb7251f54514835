#!/usr/bin/env python3
"""kl-python: a kafka-lite adapter (protocol v1) in standard-library Python 3.11.

One process is one client (a producer or a consumer). It reads one JSON
request per line on stdin and writes exactly one JSON reply per line on
stdout, flushed after each. Many such processes share one on-disk topic, and
any of them may be SIGKILLed at any instant; README.md explains why the
design below stays correct when that happens.

On-disk layout of a topic (all under <dir>/<topic>/):

    00000000000000000000   chunk files, named by the offset of their first
    00000000000000000042   record, 20 digits, so names sort in log order
    lock                   flock(LOCK_EX) held around every append batch
    groups/<g>.acks        the acks of consumer group g, one line each
    groups/<g>.lock        flock(LOCK_EX|LOCK_NB) held by the live consumer of g

Every line of a chunk or acks file is a frame:

    \\x1e CCCCCCCC SP JSON \\n      (no bytes between the parts; SP is one space)

where \\x1e is the RFC 7464 record separator, CCCCCCCC is zlib.crc32(JSON) in
8 lowercase hex digits, and JSON is ASCII-only (json.dumps escapes every
control byte, so neither \\x1e nor \\n can occur inside it). A chunk frame
holds one whole append request: {"offset":17,"values":["v1","v2"]} gives
offsets 17 and 18. An acks frame is {"ack":17}.

Only stdout carries replies; diagnostics go to stderr.
"""

import errno
import fcntl
import json
import os
import re
import sys
import time
import zlib
from collections import deque

IMPL = "kl-python 0.1"

RS = b"\x1e"  # first byte of every frame
NL = b"\n"  # last byte of every frame

CHUNK_NAME_LEN = 20  # chunk file names: 20 zero-padded decimal digits
READ_BLOCK = 4 << 20  # consumers read chunks in pieces of at most this
TAIL_WINDOW = 64 << 10  # first window of a backward scan for the last frame
POLL_SLEEP = 0.002  # an idle poll re-checks the log this often (seconds)
RELIST_EVERY = 0.02  # at most this often an idle consumer lists the topic dir
# The acks file is rewritten to its last frame once it grows past this. The
# environment variable exists only so tests can exercise compaction quickly.
ACK_COMPACT_BYTES = int(os.environ.get("KL_PY_ACK_COMPACT_BYTES", 1 << 20))

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,200}")


class ProtocolError(Exception):
    """A definite failure, answered with ok:false and this code."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def invalid(msg):
    return ProtocolError("invalid", msg)


def unsupported(msg):
    return ProtocolError("unsupported", msg)


def log(msg):
    print(f"kl-python[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- framing


def encode_frame(obj):
    """Returns the frame bytes for a JSON-serialisable object."""
    body = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return b"%s%08x %s\n" % (RS, zlib.crc32(body), body)


def decode_frame(line):
    """Returns the object of one line (without its \\n), or None if the line
    is not a whole, intact frame.

    A writer killed mid-write leaves a fragment without \\n; the next writer
    ends it with \\n, so it becomes a line of its own whose CRC fails. Should a
    fragment ever run straight into the next frame, only the text after the
    last \\x1e is considered, so the fragment cannot swallow that frame.
    """
    i = line.rfind(RS)
    if i < 0:
        return None
    frame = line[i + 1 :]
    if len(frame) < 10 or frame[8:9] != b" ":
        return None
    body = frame[9:]
    try:
        if int(frame[:8], 16) != zlib.crc32(body):
            return None
        return json.loads(body)
    except ValueError:
        return None


def last_frame(fd, size, valid):
    """Returns the last object in the first `size` bytes of fd whose frame is
    intact and for which valid(obj) holds, or None.

    It reads backwards from `size` in growing windows, so its cost is that of
    the last few frames, not of the file. Only \\n-terminated lines count: a
    trailing fragment is a write that never completed.
    """
    window = TAIL_WINDOW
    while True:
        start = max(0, size - window)
        data = os.pread(fd, size - start, start)
        end = data.rfind(NL)  # end of the last complete line
        while end >= 0:
            prev = data.rfind(NL, 0, end)
            if prev < 0 and start > 0:
                break  # the line may begin before the window: widen it
            obj = decode_frame(data[prev + 1 : end])
            if obj is not None and valid(obj):
                return obj
            end = prev
        if start == 0:
            return None
        window *= 4


def is_batch(obj):
    return (
        isinstance(obj, dict)
        and type(obj.get("offset")) is int
        and isinstance(obj.get("values"), list)
        and all(isinstance(v, str) for v in obj["values"])
    )


def is_ack(obj):
    return isinstance(obj, dict) and type(obj.get("ack")) is int


def write_all(fd, data):
    """Writes data with ONE write(2). A short write (a file size limit, a full
    disk) leaves an unterminated fragment that every reader ignores, so it is
    reported as a definite failure: nothing was appended."""
    n = os.write(fd, data)
    if n != len(data):
        raise OSError(errno.EIO, f"short write: {n} of {len(data)} bytes")


def ends_with_newline(fd, size):
    return size == 0 or os.pread(fd, 1, size - 1) == NL


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path, sync, top=True):
    """Makes directory `path` and its missing parents. With sync, fsyncs the
    parent of each directory it makes, and the parent of `path` even when
    `path` was there: a name is durable only once its directory is synced,
    and the process that made it may have died before syncing it. Without
    this a power loss could take the whole topic, acknowledged records and
    all."""
    parent = os.path.dirname(path)
    made = False
    if not os.path.isdir(path):
        if parent and parent != path:
            ensure_dir(parent, sync, top=False)
        try:
            os.mkdir(path)
            made = True
        except FileExistsError:
            pass
    if sync and parent and (made or top):
        fsync_dir(parent)


# ---------------------------------------------------------------- topic


class Topic:
    """Paths and chunk listing of one topic directory."""

    def __init__(self, dir_, name, config):
        self.path = os.path.join(dir_, name)
        self.groups = os.path.join(self.path, "groups")
        self.chunk_records = config["chunk_records"]
        self.chunk_bytes = config["chunk_bytes"]
        self.retain_chunks = config["retain_chunks"]
        self.fsync = config["fsync"] == "always"
        # Under fsync always every name we make is synced in its directory
        # before anything in it is acknowledged: the topic, groups/, each
        # chunk (Producer) and each acks file (Consumer).
        ensure_dir(self.path, self.fsync)
        ensure_dir(self.groups, self.fsync)

    def chunk_path(self, base):
        return os.path.join(self.path, "%020d" % base)

    def chunks(self):
        """The base offsets of all chunks, oldest first."""
        names = os.listdir(self.path)
        return sorted(int(n) for n in names if len(n) == CHUNK_NAME_LEN and n.isdigit())

    def next_offset_of(self, base, fd):
        """The offset the next record of chunk `base` (open as fd) gets: one
        after its last intact record, or `base` if it has none yet."""
        last = last_frame(fd, os.fstat(fd).st_size, is_batch)
        return base if last is None else last["offset"] + len(last["values"])


# ---------------------------------------------------------------- producer


class Producer:
    def __init__(self, topic):
        self.topic = topic
        self.lock_fd = os.open(os.path.join(topic.path, "lock"), os.O_RDWR | os.O_CREAT, 0o644)

    def append(self, values):
        t = self.topic
        # The topic lock serialises appends across all processes: under it,
        # the last chunk and its last intact frame say exactly which offset
        # comes next. A killed holder releases the lock with its last fd.
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            bases = t.chunks()
            base = bases[-1] if bases else 0
            fd = os.open(t.chunk_path(base), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if not bases and t.fsync:
                    fsync_dir(t.path)
                nxt = t.next_offset_of(base, fd)
                size = os.fstat(fd).st_size
                if self._full(nxt - base, size):
                    os.close(fd)
                    fd = -1
                    fd = self._rotate(nxt)
                    base, size = nxt, 0
                frame = encode_frame({"offset": nxt, "values": values})
                if not ends_with_newline(fd, size):
                    # A killed writer left a fragment: end it so it is a
                    # separate (bad) line and our frame starts a line.
                    frame = NL + frame
                write_all(fd, frame)
                if t.fsync:
                    os.fdatasync(fd)
            finally:
                if fd >= 0:
                    os.close(fd)
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
        return list(range(nxt, nxt + len(values)))

    def _full(self, records, size):
        # A chunk without records never rotates (its successor would get the
        # same name). Limits are checked before a write, so a chunk may exceed
        # them by one append batch; a batch never spans two chunks.
        t = self.topic
        return records > 0 and (
            (t.chunk_records > 0 and records >= t.chunk_records)
            or (t.chunk_bytes > 0 and size >= t.chunk_bytes)
        )

    def _rotate(self, nxt):
        """Creates chunk `nxt` (under the topic lock) and applies retention.
        Once it exists no one writes to older chunks again, which is what
        tells a reader that its chunk is complete."""
        t = self.topic
        fd = os.open(t.chunk_path(nxt), os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        if t.fsync:
            fsync_dir(t.path)
        if t.retain_chunks > 0:
            bases = t.chunks()
            for old in bases[: max(0, len(bases) - t.retain_chunks)]:
                try:
                    os.unlink(t.chunk_path(old))
                except FileNotFoundError:
                    pass
        return fd

    def close(self):
        os.close(self.lock_fd)


# ---------------------------------------------------------------- consumer


class Consumer:
    def __init__(self, topic, group, start):
        self.topic = topic
        self.group = group
        self.group_lock_fd = -1
        self.ack_fd = -1
        self.chunk_fd = -1
        try:
            if group:
                self._lock_group()
            self.next_off = self._start_offset(start)  # next offset to deliver
        except BaseException:
            self.close()
            raise
        self.chunk = None  # base of the chunk being read (None: not chosen yet)
        self.read_pos = 0  # bytes of the chunk read so far
        self.buf = bytearray()  # read bytes not yet parsed: never holds a \n
        self.pending = deque()  # parsed (offset, value) not yet delivered
        self.last_list = 0.0

    # -- groups

    def _lock_group(self):
        g = self.topic.groups
        self.group_lock_fd = os.open(os.path.join(g, self.group + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.group_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ProtocolError("error", f"group {self.group!r} already has a live consumer")
        self.acks_path = os.path.join(g, self.group + ".acks")
        self.ack_fd = os.open(self.acks_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        if self.topic.fsync:
            fsync_dir(g)  # the acks file's name, before an ack in it is confirmed

    def _last_ack(self):
        # Ack frames are short, so the backward scan reads only the tail of
        # the file, whatever the number of acks.
        last = last_frame(self.ack_fd, os.fstat(self.ack_fd).st_size, is_ack)
        return None if last is None else last["ack"]

    def ack(self, offset):
        if self.ack_fd < 0:
            raise invalid("ack needs a consumer with a group")
        frame = encode_frame({"ack": offset})
        size = os.fstat(self.ack_fd).st_size
        if not ends_with_newline(self.ack_fd, size):
            frame = NL + frame  # a previous consumer was killed mid-ack
        write_all(self.ack_fd, frame)  # in the page cache: survives SIGKILL
        if self.topic.fsync:
            os.fdatasync(self.ack_fd)
        if size + len(frame) > ACK_COMPACT_BYTES:
            self._compact_acks(offset)

    def _compact_acks(self, offset):
        # We hold the group lock, so no one else writes the acks file. A kill
        # before os.replace leaves the old file whole; after it, the new one.
        tmp = self.acks_path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, encode_frame({"ack": offset}))
            if self.topic.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.acks_path)
        if self.topic.fsync:
            fsync_dir(self.topic.groups)
        os.close(self.ack_fd)
        self.ack_fd = os.open(self.acks_path, os.O_RDWR | os.O_APPEND, 0o644)

    # -- positioning

    def _start_offset(self, start):
        t = self.topic
        if start == "earliest":
            return 0  # chunk choice below falls back to the earliest chunk
        if start == "acked":
            last = self._last_ack() if self.ack_fd >= 0 else None
            return 0 if last is None else last + 1
        # latest: one after the last intact record now.
        bases = t.chunks()
        while bases:
            try:
                fd = os.open(t.chunk_path(bases[-1]), os.O_RDONLY)
            except FileNotFoundError:
                bases = t.chunks()
                continue
            try:
                return t.next_offset_of(bases[-1], fd)
            finally:
                os.close(fd)
        return 0

    def _open_chunk(self, pick):
        """Opens the chunk that pick(bases) names, listing again if retention
        deletes it first. Returns False if there is none (yet)."""
        while True:
            base = pick(self.topic.chunks())
            if base is None:
                return False
            try:
                fd = os.open(self.topic.chunk_path(base), os.O_RDONLY)
            except FileNotFoundError:
                continue
            if self.chunk_fd >= 0:
                os.close(self.chunk_fd)
            self.chunk_fd, self.chunk, self.read_pos = fd, base, 0
            self.buf.clear()  # an unterminated fragment of the previous chunk
            return True

    def _open_first(self):
        # The last chunk that starts at or before next_off; the earliest
        # chunk if retention deleted those (auto.offset.reset=earliest).
        def pick(bases):
            before = [b for b in bases if b <= self.next_off]
            return before[-1] if before else (bases[0] if bases else None)

        return self._open_chunk(pick)

    def _open_successor(self):
        # The oldest chunk after the current one; if retention deleted the
        # direct successor this is a reset to the earliest remaining chunk.
        cur = self.chunk

        def pick(bases):
            later = [b for b in bases if b > cur]
            return later[0] if later else None

        return self._open_chunk(pick)

    def _newer_chunk_exists(self):
        # The direct successor of a chunk is named after the offset that
        # follows its last record, which is next_off once we have read it
        # all: one stat. Listing the directory covers every other case
        # (a successor deleted by retention, an ack past the end).
        if self.next_off > self.chunk and os.path.exists(self.topic.chunk_path(self.next_off)):
            return True
        now = time.monotonic()
        if now - self.last_list < RELIST_EVERY:
            return False
        self.last_list = now
        bases = self.topic.chunks()
        return bool(bases) and bases[-1] > self.chunk

    # -- reading

    def _read_more(self):
        """Reads new bytes of the current chunk, queues the records of the
        complete lines among them, and returns how many bytes it read."""
        size = os.fstat(self.chunk_fd).st_size
        if size <= self.read_pos:
            return 0
        data = os.pread(self.chunk_fd, min(size - self.read_pos, READ_BLOCK), self.read_pos)
        self.read_pos += len(data)
        old = len(self.buf)
        self.buf += data
        end = self.buf.rfind(NL, old)  # buf had no \n before `old`
        if end >= 0:
            for line in bytes(self.buf[:end]).split(NL):
                self._take(line)
            del self.buf[: end + 1]
        return len(data)

    def _take(self, line):
        obj = decode_frame(line)
        if obj is None or not is_batch(obj):
            if line:
                log(f"chunk {self.chunk}: skipping a torn or corrupt line of {len(line)} bytes")
            return
        for i, value in enumerate(obj["values"]):
            off = obj["offset"] + i
            if off >= self.next_off:  # earlier ones precede our start position
                self.pending.append((off, value))
                self.next_off = off + 1

    def _fill(self, want):
        """Queues records until `want` are pending or nothing more is there."""
        while len(self.pending) < want:
            if self.chunk is None and not self._open_first():
                return  # the topic has no chunk yet
            if self._read_more():
                continue
            if not self._newer_chunk_exists():
                return  # at the end of the log, for now
            # A newer chunk exists, so ours is sealed: whatever was written
            # to it is there now. Read it to the end, then move on; bytes
            # without a final \n are a killed writer's fragment.
            while self._read_more():
                pass
            if not self._open_successor():
                return

    def poll(self, max_, timeout_ms):
        deadline = time.monotonic() + max(0, timeout_ms) / 1000.0
        while True:
            self._fill(max_)
            left = deadline - time.monotonic()
            if self.pending or left <= 0:
                break
            time.sleep(min(POLL_SLEEP, left))
        n = min(max_, len(self.pending))
        return [{"offset": o, "value": v} for o, v in (self.pending.popleft() for _ in range(n))]

    def close(self):
        # Closing the group lock's fd releases the group for the next consumer.
        for name in ("chunk_fd", "ack_fd", "group_lock_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)


# ---------------------------------------------------------------- requests


def parse_config(raw):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid("config must be an object")
    cfg = {}
    for key in ("chunk_records", "chunk_bytes", "retain_chunks", "retain_bytes"):
        v = raw.get(key, 0)
        if type(v) is not int or v < 0:
            raise invalid(f"config {key} must be a non-negative integer")
        cfg[key] = v
    if cfg["retain_bytes"] > 0:
        raise unsupported("retain_bytes is not implemented")
    fsync = raw.get("fsync") or "never"
    if fsync == "interval":
        raise unsupported('fsync "interval" is not implemented')
    if fsync not in ("never", "always"):
        raise invalid(f"fsync {fsync!r}: want never, always or interval")
    cfg["fsync"] = fsync
    return cfg


def check_name(kind, name):
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in (".", ".."):
        raise invalid(f"bad {kind} name {name!r}: use 1-200 letters, digits, '.', '_', '-'")


class Session:
    """One client: dispatches requests in order, like protocol.Serve."""

    def __init__(self):
        self.client = None  # a Producer or Consumer once init succeeded

    def handle(self, req):
        op = req.get("op")
        if op == "init" and self.client is not None:
            raise invalid("init sent twice")
        if op not in ("init", "close") and self.client is None:
            raise invalid(f"{op!r} before init")
        if op == "init":
            return self.init(req)
        if op == "append":
            values = req.get("values")
            if values is not None and (
                not isinstance(values, list) or not all(isinstance(v, str) for v in values)
            ):
                raise invalid("values must be a list of strings")
            if not values:
                raise invalid("append without values")
            if not isinstance(self.client, Producer):
                raise invalid("append needs role producer")
            return {"offsets": self.client.append(values)}
        if op == "poll":
            max_, timeout = req.get("max", 0), req.get("timeout_ms", 0)
            if type(max_) is not int or type(timeout) is not int:
                raise invalid("max and timeout_ms must be integers")
            if not isinstance(self.client, Consumer):
                raise invalid("poll needs role consumer")
            return {"records": self.client.poll(max_ if max_ > 0 else 100, timeout)}
        if op == "ack":
            offset = req.get("offset")
            if offset is None:
                raise invalid("ack without offset")
            if type(offset) is not int or offset < 0:
                raise invalid("ack offset must be a non-negative integer")
            if not isinstance(self.client, Consumer):
                raise invalid("ack needs role consumer")
            self.client.ack(offset)
            return {}
        if op == "close":
            self.close()
            return {}
        raise invalid(f"unknown op {op!r}")

    def init(self, req):
        dir_ = req.get("dir")
        if not isinstance(dir_, str) or not dir_:
            raise invalid("init needs a dir")
        check_name("topic", req.get("topic"))
        cfg = parse_config(req.get("config"))
        role = req.get("role")
        topic_args = (dir_, req["topic"], cfg)
        if role == "producer":
            self.client = Producer(Topic(*topic_args))
        elif role == "consumer":
            group = req.get("group") or ""
            if group:
                check_name("group", group)
            start = req.get("start") or "acked"
            if start not in ("acked", "earliest", "latest"):
                raise invalid(f"start {start!r}: want acked, earliest or latest")
            self.client = Consumer(Topic(*topic_args), group, start)
        else:
            raise invalid(f"role {role!r}: want producer or consumer")
        return {"impl": IMPL}

    def close(self):
        if self.client is not None:
            self.client.close()


def main():
    out = sys.stdout.buffer
    session = Session()
    for line in sys.stdin.buffer:
        line = line.strip()
        if not line:
            continue
        req_id, done = 0, False
        try:
            try:
                req = json.loads(line)
            except (ValueError, RecursionError) as e:
                raise invalid(f"cannot decode request: {e}")
            if not isinstance(req, dict):
                raise invalid("request must be a JSON object")
            req_id = req.get("id", 0)
            if type(req_id) is not int:
                req_id = 0
                raise invalid("id must be an integer")
            rep = {"id": req_id, "ok": True}
            rep.update(session.handle(req))
            done = req.get("op") == "close"
        except ProtocolError as e:
            rep = {"id": req_id, "ok": False, "error": str(e), "code": e.code}
        except OSError as e:
            rep = {"id": req_id, "ok": False, "error": str(e), "code": "error"}
        out.write(json.dumps(rep, separators=(",", ":")).encode("ascii") + NL)
        out.flush()
        if done:
            return 0
    session.close()
    log("stdin ended without a close request")
    return 1


if __name__ == "__main__":
    sys.exit(main())
