"""Tests of kl_bench.py, the native benchmark driver (run by klbench --native)."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "kl_bench.py")


def run(*args):
    return subprocess.run([sys.executable, DRIVER, *args], capture_output=True, text=True, timeout=60)


class KlBenchTest(unittest.TestCase):
    def test_produce_then_process(self):
        with tempfile.TemporaryDirectory() as d:
            values = os.path.join(d, "values")
            with open(values, "w") as f:
                f.write("".join(f"v{i}\n" for i in range(30)))
            p = run("produce", d, "t", values)
            self.assertEqual(p.returncode, 0, p.stderr)
            res = json.loads(p.stdout)
            self.assertEqual((res["count"], res["last_offset"]), (30, 29))
            self.assertGreater(res["elapsed_ns"], 0)
            c = run("process", d, "t", "30")
            self.assertEqual(c.returncode, 0, c.stderr)
            self.assertEqual(json.loads(c.stdout)["last_offset"], 29)
            short = run("process", d, "t", "31")
            self.assertEqual(short.returncode, 1)
            self.assertIn("poll returned nothing", short.stderr)

    def test_usage(self):
        for args in ([], ["produce"], ["read", "d", "t", "1"], ["process", "d", "t", "x"]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("kl_bench", p.stderr)
            self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    unittest.main()
