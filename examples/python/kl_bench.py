#!/usr/bin/env python3
"""Native benchmark driver for kl_adapter: klbench --native runs it.

It times the library in its own process, one call per message, the way the
original proof of concept's produce.py and process.py were timed; there is
no protocol in between. The contract (docs/BENCH.md, "Native drivers"):

    kl_bench.py produce DIR TOPIC VALUES   append each line of VALUES, one append each
    kl_bench.py process DIR TOPIC COUNT    read COUNT records from the earliest

It prints one JSON object on stdout, e.g.

    {"elapsed_ns": 4812345678, "count": 100000, "last_offset": 99999}

The clock starts after the input is read and before the producer or
consumer is opened, and stops when the last append has returned or the last
record is in hand. Exit status 0 on success, 1 on a failure (told on
stderr), 2 on bad usage.
"""

import json
import sys
import time

import kl_adapter as kl

# A poll that brings nothing for this long means the records are not there.
POLL_TIMEOUT_MS = 1000


def produce(dir_, topic, values_path):
    with open(values_path, encoding="ascii") as f:
        values = f.read().splitlines()
    cfg = kl.parse_config({})
    last = -1
    t0 = time.monotonic_ns()
    producer = kl.Producer(kl.Topic(dir_, topic, cfg))
    try:
        for v in values:
            last = producer.append([v])[-1]
    finally:
        producer.close()
    elapsed = time.monotonic_ns() - t0
    return {"elapsed_ns": elapsed, "count": len(values), "last_offset": last}


def process(dir_, topic, count):
    cfg = kl.parse_config({})
    got, last = 0, -1
    t0 = time.monotonic_ns()
    consumer = kl.Consumer(kl.Topic(dir_, topic, cfg), "", "earliest")
    try:
        while got < count:
            recs = consumer.poll(min(10000, count - got), POLL_TIMEOUT_MS)
            if not recs:
                raise RuntimeError(f"poll returned nothing for {POLL_TIMEOUT_MS} ms after {got} of {count} records")
            got += len(recs)
            last = recs[-1]["offset"]
    finally:
        consumer.close()
    elapsed = time.monotonic_ns() - t0
    return {"elapsed_ns": elapsed, "count": got, "last_offset": last}


def main(argv):
    if len(argv) != 5 or argv[1] not in ("produce", "process"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: kl_bench.py produce DIR TOPIC VALUES | process DIR TOPIC COUNT", file=sys.stderr)
        return 2
    op, dir_, topic, arg = argv[1:]
    if op == "process" and not (arg.isdigit() and int(arg) > 0):
        print(f"kl_bench process: COUNT {arg!r} is not a positive integer", file=sys.stderr)
        return 2
    try:
        if op == "produce":
            res = produce(dir_, topic, arg)
        else:
            res = process(dir_, topic, int(arg))
    except (OSError, ValueError, RuntimeError) as e:
        print(f"kl_bench {op}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
