"""Tests of kl_adapter.py through real adapter processes (stdlib only).

Run: python3 -m unittest discover -s examples/python -v
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ADAPTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kl_adapter.py")
TIMEOUT = 20  # seconds to wait for one reply


def config(**kw):
    c = {"chunk_records": 0, "chunk_bytes": 0, "retain_chunks": 0, "fsync": "never"}
    c.update(kw)
    return c


class Client:
    """One adapter process; request() sends a line and returns the reply."""

    def __init__(self, env=None):
        self.proc = subprocess.Popen(
            [sys.executable, ADAPTER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines = queue.Queue()
        self.next_id = 1
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            (sink.put if isinstance(sink, queue.Queue) else sink.append)(line)

    def send_raw(self, line):
        self.proc.stdin.write(line if isinstance(line, bytes) else line.encode())
        self.proc.stdin.flush()

    def read_raw(self):
        return self.lines.get(timeout=TIMEOUT)

    def request(self, op, **fields):
        req = {"id": self.next_id, "op": op, **fields}
        self.next_id += 1
        self.send_raw(json.dumps(req) + "\n")
        rep = json.loads(self.read_raw())
        assert rep["id"] == req["id"], (req, rep)
        return rep

    def ok(self, op, **fields):
        rep = self.request(op, **fields)
        assert rep["ok"], (op, rep)
        return rep

    def close(self):
        self.ok("close")
        assert self.proc.wait(TIMEOUT) == 0

    def kill(self):
        self.proc.kill()
        self.proc.wait(TIMEOUT)

    def cleanup(self):
        if self.proc.poll() is None:
            self.kill()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


class AdapterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kl-python-test-")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, env=None):
        c = Client(env)
        self.clients.append(c)
        return c

    def producer(self, topic="t", cfg=None, name="p1"):
        c = self.client()
        rep = c.ok("init", dir=self.dir, topic=topic, client=name, role="producer", config=cfg or config())
        self.assertEqual(rep, {"id": 1, "ok": True, "impl": "kl-python 0.1"})
        return c

    def consumer(self, topic="t", cfg=None, group="g", start="earliest", name="c1", env=None):
        c = self.client(env)
        c.ok("init", dir=self.dir, topic=topic, client=name, role="consumer", group=group, start=start,
             config=cfg or config())
        return c

    def drain(self, c, want, timeout=15):
        """Polls until `want` records arrived; fails on a timeout."""
        got, deadline = [], time.monotonic() + timeout
        while len(got) < want:
            self.assertLess(time.monotonic(), deadline, f"got {len(got)} of {want} records")
            got += c.ok("poll", max=1000, timeout_ms=200)["records"]
        return got

    def assert_dense(self, recs, first=0):
        self.assertEqual([r["offset"] for r in recs], list(range(first, first + len(recs))))

    # ------------------------------------------------------------ protocol

    def test_protocol_session(self):
        p = self.producer()
        self.assertEqual(p.ok("append", values=["a", "b"]), {"id": 2, "ok": True, "offsets": [0, 1]})
        self.assertEqual(p.ok("append", values=["c"])["offsets"], [2])

        c = self.consumer()
        rep = c.ok("poll", max=2, timeout_ms=1000)
        self.assertEqual(rep["records"], [{"offset": 0, "value": "a"}, {"offset": 1, "value": "b"}])
        self.assertEqual(c.ok("poll", max=10, timeout_ms=0)["records"], [{"offset": 2, "value": "c"}])
        # An empty poll still has "records":[] and nothing else.
        c.send_raw(json.dumps({"id": 50, "op": "poll", "max": 10, "timeout_ms": 50}) + "\n")
        self.assertEqual(c.read_raw(), b'{"id":50,"ok":true,"records":[]}\n')
        # A poll returns as soon as a record arrives, well before its timeout.
        t0 = time.monotonic()
        threading.Timer(0.2, lambda: p.ok("append", values=["d"])).start()
        self.assertEqual(c.ok("poll", max=10, timeout_ms=10000)["records"], [{"offset": 3, "value": "d"}])
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(c.ok("ack", offset=3), {"id": 5, "ok": True})
        c.close()
        p.close()

    def test_error_replies(self):
        c = self.client()

        def fails(code, line):
            c.send_raw(line + "\n")
            rep = json.loads(c.read_raw())
            self.assertFalse(rep["ok"], (line, rep))
            self.assertEqual(rep["code"], code, (line, rep))
            self.assertTrue(rep["error"])
            return rep

        self.assertEqual(fails("invalid", "not json")["id"], 0)
        self.assertEqual(fails("invalid", '{"id":7,"op":"poll","max":1}')["id"], 7)  # before init
        init = {"id": 8, "op": "init", "dir": self.dir, "topic": "t", "client": "x", "role": "consumer",
                "group": "g", "start": "earliest"}
        fails("unsupported", json.dumps({**init, "config": config(fsync="interval")}))
        fails("unsupported", json.dumps({**init, "config": config(retain_bytes=1000)}))
        fails("invalid", json.dumps({**init, "config": config(fsync="sometimes")}))
        fails("invalid", json.dumps({**init, "topic": "../evil", "config": config()}))
        fails("invalid", json.dumps({**init, "role": "boss", "config": config()}))
        fails("invalid", json.dumps({**init, "start": "middle", "config": config()}))
        # After failed inits, a good one works; a second one is refused.
        self.assertTrue(json.loads((c.send_raw(json.dumps({**init, "config": config()}) + "\n"),
                                    c.read_raw())[1])["ok"])
        fails("invalid", json.dumps({**init, "id": 9, "config": config()}))
        fails("invalid", '{"id":10,"op":"append","values":["x"]}')  # a consumer
        fails("invalid", '{"id":11,"op":"ack"}')
        fails("invalid", '{"id":12,"op":"ack","offset":"3"}')
        fails("invalid", '{"id":13,"op":"fly"}')
        fails("invalid", '{"id":14,"op":"poll","max":"many"}')
        c.close()

        p = self.producer()
        for line in ['{"id":2,"op":"append"}', '{"id":3,"op":"append","values":[]}',
                     '{"id":4,"op":"append","values":[1]}', '{"id":5,"op":"poll"}', '{"id":6,"op":"ack","offset":1}']:
            p.send_raw(line + "\n")
            rep = json.loads(p.read_raw())
            self.assertEqual((rep["ok"], rep["code"]), (False, "invalid"), (line, rep))
        p.close()

    # ------------------------------------------------------------ concurrency

    def test_concurrent_producers(self):
        cfg = config(chunk_records=7, chunk_bytes=300)
        producers = [self.producer(cfg=cfg, name=f"p{i}") for i in range(4)]
        sent = {}  # value -> offset its append returned

        def run(i, p):
            for n in range(150):
                vals = [f"p{i}:{n}:{k}" for k in range(1 + n % 3)]
                for v, off in zip(vals, p.ok("append", values=vals)["offsets"]):
                    sent[v] = off

        threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(producers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = len(sent)
        self.assertEqual(total, 4 * (50 * 1 + 50 * 2 + 50 * 3))
        self.assertGreater(len([n for n in os.listdir(os.path.join(self.dir, "t")) if n.isdigit()]), 20)

        recs = self.drain(self.consumer(cfg=cfg), total)
        self.assert_dense(recs)
        self.assertEqual({r["value"]: r["offset"] for r in recs}, sent)  # each value once, at its offset
        for i in range(4):  # each producer's values in its order
            mine = [r["value"] for r in recs if r["value"].startswith(f"p{i}:")]
            self.assertEqual(mine, sorted(mine, key=lambda v: tuple(map(int, v.split(":")[1:]))))
        for p in producers:
            p.close()

    def test_sigkill_mid_large_write(self):
        cfg = config(chunk_bytes=6 << 20)
        big = ["B" * (1 << 20) + str(k) for k in range(8)]  # 8 MiB per append
        for delay in (0.0, 0.005, 0.02, 0.05):
            killed = self.producer(cfg=cfg)
            killed.send_raw(json.dumps({"id": 2, "op": "append", "values": big}) + "\n")
            time.sleep(delay)
            killed.kill()
            self.producer(cfg=cfg).ok("append", values=[f"after-{delay}"])
        # And a fragment certainly left mid-record, as a killed writer would.
        last = max(n for n in os.listdir(os.path.join(self.dir, "t")) if n.isdigit())
        with open(os.path.join(self.dir, "t", last), "ab") as f:
            f.write(b'\x1e0badc0de {"offset":99,"values":["torn')
        p = self.producer(cfg=cfg)
        offs = p.ok("append", values=["x1", "x2"])["offsets"]
        self.assertEqual(offs, [offs[0], offs[0] + 1])

        recs = self.drain(self.consumer(cfg=cfg), offs[1] + 1)
        self.assert_dense(recs)
        vals = [r["value"] for r in recs]
        for d in (0.0, 0.005, 0.02, 0.05):
            self.assertEqual(vals.count(f"after-{d}"), 1)
        self.assertEqual(vals[-2:], ["x1", "x2"])
        # A killed batch is all or nothing: the 8 values in order, or none.
        rest = [v for v in vals if v.startswith("B")]
        self.assertEqual(rest, big * (len(rest) // 8))
        self.assertEqual(len(rest) % 8, 0)
        p.close()

    # ------------------------------------------------------------ groups

    def test_resume_after_ack(self):
        p = self.producer()
        p.ok("append", values=[f"v{i}" for i in range(10)])
        c = self.consumer(start="acked")
        self.assertEqual(len(self.drain(c, 10)), 10)
        c.ok("ack", offset=4)
        c.close()
        c = self.consumer(start="acked")
        self.assertEqual(self.drain(c, 5)[0], {"offset": 5, "value": "v5"})
        c.ok("ack", offset=7)
        c.kill()  # the ack was written before its reply: it survives SIGKILL
        c = self.consumer(start="acked")
        self.assertEqual(c.ok("poll", max=1, timeout_ms=1000)["records"], [{"offset": 8, "value": "v8"}])
        c.close()
        # Other start positions, and another group starting from scratch.
        self.assertEqual(self.consumer(group="other", start="acked").ok("poll", max=1, timeout_ms=1000)
                         ["records"][0]["offset"], 0)
        latest = self.consumer(group="h", start="latest")
        self.assertEqual(latest.ok("poll", max=5, timeout_ms=50)["records"], [])
        p.ok("append", values=["new"])
        self.assertEqual(latest.ok("poll", max=5, timeout_ms=5000)["records"], [{"offset": 10, "value": "new"}])
        p.close()

    def test_ack_compaction(self):
        self.producer().ok("append", values=[f"v{i}" for i in range(300)])
        env = dict(os.environ, KL_PY_ACK_COMPACT_BYTES="1000")
        c = self.consumer(start="acked", env=env)
        self.drain(c, 300)
        for off in range(250):
            c.ok("ack", offset=off)
        size = os.path.getsize(os.path.join(self.dir, "t", "groups", "g.acks"))
        self.assertLessEqual(size, 1100)
        c.kill()
        c = self.consumer(start="acked")
        self.assertEqual(c.ok("poll", max=1, timeout_ms=1000)["records"][0]["offset"], 250)
        c.close()

    def test_live_group_refused(self):
        self.producer().ok("append", values=["a"])
        first = self.consumer()
        second = self.client()
        init = dict(dir=self.dir, topic="t", client="c2", role="consumer", group="g", start="acked", config=config())
        rep = second.request("init", **init)
        self.assertEqual((rep["ok"], rep["code"]), (False, "error"), rep)
        self.consumer(group="g2")  # another group is fine
        first.close()
        self.assertTrue(second.request("init", **init)["ok"])  # the group is free again
        second.close()

    # ------------------------------------------------------------ retention

    def test_retention(self):
        cfg = config(chunk_records=2, retain_chunks=3)
        p = self.producer(cfg=cfg)
        p.ok("append", values=["v0", "v1"])
        lagging = self.consumer(cfg=cfg, group="lag")
        self.assertEqual(len(self.drain(lagging, 2)), 2)  # it is now at the end of chunk 0
        for i in range(2, 20):
            p.ok("append", values=[f"v{i}"])
        chunks = sorted(n for n in os.listdir(os.path.join(self.dir, "t")) if n.isdigit())
        self.assertEqual(len(chunks), 3)
        # Rotation happens when the next append finds a chunk full, so the
        # active chunk 18 holds 18 and 19, and 14 is the oldest one kept.
        self.assertEqual([int(n) for n in chunks], [14, 16, 18])
        # A new consumer starts at the earliest chunk; the lagging one, whose
        # next chunk is gone, resets to it too.
        for c in (self.consumer(cfg=cfg, group="new"), lagging):
            recs = self.drain(c, 6)
            self.assertEqual(recs, [{"offset": i, "value": f"v{i}"} for i in range(14, 20)])
        p.close()


class EnsureDirTest(unittest.TestCase):
    """Under fsync always every directory the adapter makes is synced in its
    parent, so that a power loss cannot take the topic (docs/LAZYFS.md)."""

    def setUp(self):
        sys.path.insert(0, os.path.dirname(ADAPTER))
        import kl_adapter

        self.mod = kl_adapter
        self.synced = []
        self.real = kl_adapter.fsync_dir
        kl_adapter.fsync_dir = lambda path: self.synced.append(path)
        self.dir = tempfile.mkdtemp(prefix="kl-python-test-")

    def tearDown(self):
        self.mod.fsync_dir = self.real
        sys.path.remove(os.path.dirname(ADAPTER))
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_syncs_the_parent_of_each_directory_it_makes(self):
        a, b = os.path.join(self.dir, "a"), os.path.join(self.dir, "a", "b")
        for sync, want in ((False, []), (True, [self.dir, a])):
            with self.subTest(sync=sync):
                shutil.rmtree(a, ignore_errors=True)
                self.synced.clear()
                self.mod.ensure_dir(b, sync)
                self.assertTrue(os.path.isdir(b))
                self.assertEqual(self.synced, want)
        # It exists now; the parent of the directory asked for is synced
        # again (whoever made it may have died before syncing it), no other.
        self.synced.clear()
        self.mod.ensure_dir(b, True)
        self.assertEqual(self.synced, [a])

    def test_topic_and_group_names_are_synced_under_fsync_always(self):
        topic = self.mod.Topic(self.dir, "t", self.mod.parse_config(config(fsync="always")))
        self.assertEqual(self.synced, [self.dir, topic.path])
        self.synced.clear()
        self.mod.Topic(self.dir, "u", self.mod.parse_config(config()))
        self.assertEqual(self.synced, [])


if __name__ == "__main__":
    unittest.main()
