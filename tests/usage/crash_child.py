"""Run as `python -m tests.usage.crash_child sqlite PATH | postgres DSN SPOOL [RATE]`: starts a
sink with its default batching and submits records stamped with the current time at a steady
RATE per second until killed. Used to measure what `kill -9` loses."""

from __future__ import annotations

import random
import sys
import time

from llms.usage.record import UsageRecord

from .conftest import make_record


def open_sink(argv: list[str]):
    if argv[0] == "sqlite":
        from llms.usage.sqlite import SqliteSink

        return SqliteSink(argv[1]).start(), argv[2:]
    from llms.usage.postgres import PostgresSink

    return PostgresSink(argv[1], argv[2]).start(), argv[3:]


def main() -> None:
    sink, rest = open_sink(sys.argv[1:])
    rate = float(rest[0]) if rest else 5000.0
    rng = random.Random(1)
    print("ready", flush=True)
    n, t0 = 0, time.monotonic()
    while True:
        due = int((time.monotonic() - t0) * rate)
        while n < due:
            rec: UsageRecord = make_record(n, rng, time.time())
            rec.id = f"req_{n:010d}"
            sink.submit(rec)
            n += 1
        time.sleep(0.002)


if __name__ == "__main__":
    main()
