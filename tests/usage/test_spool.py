"""The spool file on its own: what a replay hands out, how an interrupted replay resumes, and
that a broken line is counted once."""

from __future__ import annotations

import random

from llms.usage.spool import Spool

from .conftest import make_record


def test_an_interrupted_replay_resumes_after_what_was_stored(tmp_path):
    rng = random.Random(8)
    recs = [make_record(i, rng, 1.0 + i) for i in range(25)]
    spool = Spool(tmp_path / "s.jsonl")
    assert spool.append(recs[:12]) == 0
    with spool.path.open("ab") as f:
        f.write(b"not json\n")
    spool.append(recs[12:])
    spool = Spool(spool.path)  # a new sink (after the crash that broke a line) sees what waits
    assert spool.count == 26

    batches = spool.batches(10)
    assert next(batches) == recs[:10]
    spool.stored()
    assert next(batches) == recs[10:20]  # 11 lines read, one of them broken
    spool.interrupted()  # (the outage): this batch is read again next time
    batches.close()
    spool.append(recs[:1])  # spilled during the outage: a fresh file, replayed later
    assert spool.count == 16 + 1

    again = list(spool.batches(10))
    assert again == [recs[10:20], recs[20:]]
    spool.stored()
    spool.stored()
    assert spool.done() == 1 and spool.count == 1  # the broken line, counted once
    assert list(spool.batches(10)) == [recs[:1]]
