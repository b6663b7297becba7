"""What every ledger backend must do, run against real SQLite and a real PostgreSQL: records
round-trip field for field, `requests()` orders, filters and pages, `summary()` matches a count
done here, and nothing submitted is lost on close or silently dropped."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import defaultdict

import pytest

from llms.usage import Sink, UsageRecord
from llms.usage.record import OUTCOMES

from .conftest import make_record

DAY = 86400.0
T0 = 1_780_000_000.0 - (1_780_000_000.0 % DAY)  # a UTC midnight


def records(n: int, seed: int = 1, start: float = T0, step: float = 37.0) -> list[UsageRecord]:
    rng = random.Random(seed)
    return [make_record(i, rng, start + i * step) for i in range(n)]


def store(sink, recs: list[UsageRecord]) -> None:
    for r in recs:
        sink.submit(r)
    assert sink.flush(timeout=30)


async def test_every_field_round_trips(make_sink):
    sink = make_sink()
    assert isinstance(sink, Sink)
    recs = records(12)
    recs[0].content = {"messages": [{"role": "user", "content": "héllo ✓ \u0000"}], "reply": "hi"}
    recs[1].cost = 1e-9
    recs[2].prompt_tokens = 2**40  # BIGINT columns
    store(sink, recs)
    for r in recs:
        assert await sink.get(r.id) == r
    page = await sink.requests(limit=100)
    assert sorted(page["data"], key=lambda r: r.id) == recs
    assert await sink.get("req_missing") is None
    assert recs[0].to_dict()["content"] == recs[0].content and "content" not in recs[1].to_dict()


async def test_requests_newest_first_with_filters_and_paging(make_sink):
    sink = make_sink(batch_size=16)
    recs = records(95)
    recs[10].created = recs[11].created  # a tie is broken by id, so paging never skips one
    store(sink, recs)
    newest_first = sorted(recs, key=lambda r: (r.created, r.id), reverse=True)

    seen, before = [], None
    while True:
        page = await sink.requests(limit=10, before=before)
        seen += page["data"]
        if not page["has_more"]:
            break
        before = page["data"][-1].id
    assert [r.id for r in seen] == [r.id for r in newest_first]

    for field, value in (("model", "smart"), ("provider", "groq"), ("key", "team-b"), ("outcome", "timeout")):
        want = [r.id for r in newest_first if getattr(r, field) == value]
        page = await sink.requests(limit=1000, **{field: value})
        assert [r.id for r in page["data"]] == want and want and not page["has_more"]

    want = [r.id for r in newest_first if r.model == "fast" and r.key == "team-a"]
    first = await sink.requests(limit=3, model="fast", key="team-a")
    rest = await sink.requests(limit=1000, model="fast", key="team-a", before=first["data"][-1].id)
    assert first["has_more"] and [r.id for r in first["data"] + rest["data"]] == want
    with pytest.raises(ValueError):
        await sink.requests(outcome="fine")


def nearest_rank(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return values[math.ceil(p * len(values)) - 1] if values else None


def expected_summary(recs: list[UsageRecord], group_of) -> dict:
    groups: dict = defaultdict(list)
    for r in recs:
        groups[group_of(r)].append(r)
    out = {}
    for g, rs in groups.items():
        def total(field, rs=rs):
            known = [getattr(r, field) for r in rs if getattr(r, field) is not None]
            return sum(known) if known else None

        durations = [r.duration_ms for r in rs if r.duration_ms is not None]
        out[g] = {
            "group": g, "requests": len(rs), "errors": sum(r.outcome != "ok" for r in rs),
            "prompt_tokens": total("prompt_tokens"), "completion_tokens": total("completion_tokens"),
            "cost": total("cost"), "p50_ms": nearest_rank(durations, 0.5), "p95_ms": nearest_rank(durations, 0.95),
        }  # fmt: skip
    return out


def assert_rows_match(rows: list[dict], want: dict) -> None:
    assert {r["group"] for r in rows} == set(want)
    for row in rows:
        exp = want[row["group"]]
        for field, value in exp.items():
            if isinstance(value, float):
                assert row[field] == pytest.approx(value, rel=1e-9), (row["group"], field)
            else:
                assert row[field] == value, (row["group"], field)


async def test_summary_matches_a_count(make_sink):
    sink = make_sink(batch_size=100)
    recs = records(700, seed=7, step=DAY * 3 / 700)  # three UTC days
    recs[5].model = "lonely"  # a group of one
    store(sink, recs)
    day = lambda r: time.strftime("%Y-%m-%d", time.gmtime(r.created))  # noqa: E731
    groups = {"day": day, "model": lambda r: r.model, "provider": lambda r: r.provider, "key": lambda r: r.key}
    for group_by, group_of in groups.items():
        rows = await sink.summary(group_by=group_by)
        assert_rows_match(rows, expected_summary(recs, group_of))
    days = [row["group"] for row in await sink.summary(group_by="day")]
    assert days == sorted(days) and len(days) == 3

    start, end = T0 + DAY / 2, T0 + 2 * DAY
    window = [r for r in recs if start <= r.created < end]
    assert_rows_match(await sink.summary(start, end, "model"), expected_summary(window, lambda r: r.model))
    assert await sink.summary(end + 10 * DAY) == []
    with pytest.raises(ValueError):
        await sink.summary(group_by="hour")


async def test_close_stores_everything_submitted(make_sink):
    sink = make_sink(batch_size=500, interval=5.0)  # the timer never fires: close must flush
    recs = records(12_345, step=0.01)
    t0 = time.perf_counter()
    for r in recs:
        sink.submit(r)
    submit_s = time.perf_counter() - t0
    sink.close()
    assert sink.stats() == type(sink.stats())(queued=0, written=12_345, failed=0, dropped=0, spooled=0)
    rows = await sink.summary(group_by="model")
    assert sum(r["requests"] for r in rows) == 12_345
    assert submit_s / len(recs) < 50e-6  # a deque append, not a write


async def test_a_full_queue_counts_what_it_refuses(make_sink):
    sink = make_sink(batch_size=1000, interval=30.0, max_queue=10)
    for r in records(15):
        sink.submit(r)
    stats = sink.stats()
    assert (stats.queued, stats.dropped) == (10, 5)
    await sink.aclose()
    sink.submit(records(1, seed=2)[0])  # after close: refused, and counted
    stats = sink.stats()
    assert (stats.queued, stats.written, stats.dropped) == (0, 10, 6)
    assert len((await sink.requests(limit=100))["data"]) == 10


async def test_the_timer_writes_a_partial_batch(make_sink):
    sink = make_sink(batch_size=1000, interval=0.1)
    rec = records(1)[0]
    sink.submit(rec)
    deadline = time.monotonic() + 10
    while await sink.get(rec.id) is None:
        assert time.monotonic() < deadline, "a lone record was not written by the timer"
        await asyncio.sleep(0.05)


async def test_outcomes_are_the_issues_list():
    assert OUTCOMES == ("ok", "client_error", "upstream_error", "timeout", "cancelled", "truncated")


async def test_a_record_that_cannot_be_stored_is_counted_and_the_rest_are_stored(make_sink):
    sink = make_sink()
    recs = records(5)
    recs[2].content = {"not json": object()}
    store(sink, recs)
    stats = sink.stats()
    assert (stats.written, stats.failed, stats.queued) == (4, 1, 0)
    assert await sink.get(recs[2].id) is None and await sink.get(recs[3].id) == recs[3]


async def test_forget_content_erases_old_content_and_keeps_the_records(make_sink):
    sink = make_sink()
    recs = records(10, step=100.0)
    for i, r in enumerate(recs):
        r.content = {"messages": [{"role": "user", "content": f"m{i}"}]} if i % 2 == 0 else None
    store(sink, recs)
    cut = recs[6].created
    assert await sink.forget_content(cut) == 3  # records 0, 2, 4
    for i, r in enumerate(recs):
        stored = await sink.get(r.id)
        assert stored is not None
        assert stored.content == (None if i < 6 else r.content)
    assert await sink.forget_content(cut) == 0
