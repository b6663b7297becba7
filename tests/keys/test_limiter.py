"""Admission on one process (`LocalLimiter`) and shared through a real Redis
(`SharedLimiter`): exact under concurrency, TPM on real tokens, budgets reserved and settled on
the real cost, OpenAI's headers, revocation, and Redis stopping mid-test."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from llms.keys.limiter import LocalLimiter
from llms.keys.periods import period_bounds, period_id, reset_text, window_reset
from llms.keys.record import ClientKey
from llms.keys.shared import SharedLimiter

from .redis_server import RedisServer


def key(**limits: object) -> ClientKey:
    return ClientKey(id=f"key_{abs(hash(tuple(limits.items()))) % 10**8}", name="k", prefix="00000000",
                     hash="", **limits)  # type: ignore[arg-type]  # fmt: skip


async def burst(limiter: LocalLimiter | SharedLimiter, k: ClientKey, n: int, estimate: float = 0.0) -> int:
    """n admissions at once, interleaved on the loop; how many were admitted. Not across a
    minute boundary (a new rate window would rightly admit more)."""
    await away_from_window_end()

    async def one() -> bool:
        await asyncio.sleep(0)
        return (await limiter.admit(k, estimate)).allowed

    return sum(await asyncio.gather(*(one() for _ in range(n))))


async def away_from_window_end(margin: float = 3.0) -> None:
    if window_reset(time.time()) < margin:
        await asyncio.sleep(window_reset(time.time()) + 0.05)


def test_reset_text_is_openais_format():
    assert [reset_text(s) for s in (0.25, 1, 59.2, 360, 3723)] == ["250ms", "1s", "1m0s", "6m0s", "1h2m3s"]


def test_periods():
    t = 1_764_763_200.0 + 3600 * 5  # 2025-12-03 05:00 UTC, a Wednesday
    assert period_id("day", t) == "day:2025-12-03"
    assert period_id("week", t) == "week:2025-12-01"
    assert period_id("month", t) == "month:2025-12-01"
    start, end = period_bounds("month", t)
    assert end - start == 31 * 86400


async def test_local_exact_under_concurrency():
    limiter = LocalLimiter()
    k = key(rpm=50)
    assert await burst(limiter, k, 200) == 50
    refused = await limiter.admit(k)
    assert refused.refusal == "rate_limit_requests"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_headers_on_admission():
    await away_from_window_end(6.0)
    limiter = LocalLimiter()
    k = key(rpm=3, tpm=100)
    d = await limiter.admit(k)
    assert d.headers["x-ratelimit-limit-requests"] == "3"
    assert d.headers["x-ratelimit-remaining-requests"] == "2"
    assert d.headers["x-ratelimit-limit-tokens"] == "100"
    assert d.headers["x-ratelimit-remaining-tokens"] == "100"
    assert d.headers["x-ratelimit-reset-requests"].endswith("s")
    assert (await limiter.admit(key())).headers == {}  # no limits: nothing counted, no headers


async def test_tpm_counts_real_tokens_after_the_call():
    await away_from_window_end(6.0)
    limiter = LocalLimiter()
    k = key(tpm=100)
    first = await limiter.admit(k)
    second = await limiter.admit(k)  # admitted: nothing is counted until a call ends
    assert first.allowed and second.allowed
    limiter.settle(first, 60, None)
    assert (await limiter.admit(k)).headers["x-ratelimit-remaining-tokens"] == "40"
    limiter.settle(second, 50, None)
    refused = await limiter.admit(k)
    assert refused.refusal == "rate_limit_tokens"


async def test_budget_reserves_then_settles_on_real_cost():
    limiter = LocalLimiter()
    k = key(budget=1.0, period="day")
    # reservations: four of 0.25 fill the budget, so of 10 at once exactly 4 are admitted
    admitted = [d for d in [await limiter.admit(k, 0.25) for _ in range(10)] if d.allowed]
    assert len(admitted) == 4
    for d in admitted:
        limiter.settle(d, 10, 0.01)  # each cost far less than estimated
    assert limiter.spent(k) == pytest.approx(0.04)
    d = await limiter.admit(k, 0.25)
    assert d.allowed
    limiter.settle(d, 10_000, 2.0)  # a long stream ran past the budget: the real cost counts
    refused = await limiter.admit(k, 0.25)
    assert refused.refusal == "insufficient_quota"
    assert refused.retry_after is not None and refused.retry_after <= 86400


async def test_seed_from_the_ledger():
    limiter = LocalLimiter()
    k = key(budget=1.0, period="month")
    await limiter.seed(k, 0.999)
    assert (await limiter.admit(k, 0.5)).allowed
    assert (await limiter.admit(k, 0.5)).refusal == "insufficient_quota"
    await limiter.seed(k, 0.0)  # counted here already: the ledger does not reset it
    assert (await limiter.admit(k, 0.5)).refusal == "insufficient_quota"


# -- shared through Redis ------------------------------------------------------------------------


async def test_two_limiters_on_one_redis_hold_one_limit(redis_server: RedisServer):
    a, b = SharedLimiter(redis_server.url), SharedLimiter(redis_server.url)
    try:
        k = key(rpm=50)
        admitted = await asyncio.gather(burst(a, k, 100), burst(b, k, 100))
        assert sum(admitted) == 50
        assert a.status()["redis"] == "ok"
    finally:
        await a.aclose()
        await b.aclose()


async def test_shared_tokens_and_budget(redis_server: RedisServer):
    await away_from_window_end(6.0)
    a, b = SharedLimiter(redis_server.url), SharedLimiter(redis_server.url)
    try:
        k = key(tpm=100, budget=1.0, period="day")
        d = await a.admit(k, 0.5)
        assert d.allowed and d.shared
        a.settle(d, 120, 0.9)
        await asyncio.sleep(0)
        await asyncio.wait(list(a._tasks), timeout=5)
        refused = await b.admit(k, 0.5)
        assert refused.refusal == "rate_limit_tokens"
        assert refused.headers["x-ratelimit-remaining-tokens"] == "0"
        k2 = key(budget=1.0, period="day", rpm=1000)
        await b.seed(k2, 0.7)
        await a.seed(k2, 0.0)  # already counted in Redis: NX keeps the first
        assert (await a.admit(k2, 0.2)).allowed
        assert (await b.admit(k2, 0.2)).allowed  # 0.7 + 0.2 < 1.0
        assert (await a.admit(k2, 0.2)).refusal == "insufficient_quota"  # 0.7 + 0.4 reserved
    finally:
        await a.aclose()
        await b.aclose()


async def test_revocation_is_seen_by_every_limiter(redis_server: RedisServer):
    a, b = SharedLimiter(redis_server.url), SharedLimiter(redis_server.url)
    try:
        limited, free = key(rpm=100), key()
        assert (await b.admit(limited)).allowed and (await b.admit(free)).allowed
        await a.revoke(limited.id)
        await a.revoke(free.id)
        assert (await b.admit(limited)).refusal == "revoked"
        assert (await b.admit(free)).refusal == "revoked"
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_down_falls_back_per_process(redis_server: RedisServer, caplog: pytest.LogCaptureFixture):
    await away_from_window_end(6.0)
    limiter = SharedLimiter(redis_server.url)
    try:
        k = key(rpm=5)
        assert await burst(limiter, k, 3) == 3
        redis_server.stop()
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="llms.limits"):
            decisions = [await limiter.admit(k) for _ in range(10)]
        assert time.monotonic() - started < 5  # no request waits long on a dead Redis
        assert sum(d.allowed for d in decisions) == 5  # per process from here: a fresh count of 5
        assert not any(d.shared for d in decisions)
        assert limiter.status()["redis"] == "down"
        assert any("unreachable" in r.message for r in caplog.records)
        redis_server.start()
        limiter._retry_at = 0  # do not wait out the retry interval
        d = await limiter.admit(k)
        assert d.shared and d.allowed  # back on Redis's count (3 of 5 used this minute)
        assert limiter.status()["redis"] == "ok"
    finally:
        await limiter.aclose()


async def test_redis_down_fail_closed(redis_server: RedisServer):
    limiter = SharedLimiter(redis_server.url, fail_closed=True)
    try:
        redis_server.stop()
        d = await limiter.admit(key(rpm=5))
        assert d.refusal == "limits_unavailable"
    finally:
        await limiter.aclose()


async def test_settlements_survive_a_flushed_script_cache(redis_server: RedisServer):
    await away_from_window_end(6.0)
    limiter = SharedLimiter(redis_server.url)
    try:
        k = key(tpm=100)
        d = await limiter.admit(k)
        await limiter.redis.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
        limiter.settle(d, 150, None)
        await asyncio.sleep(0)
        await asyncio.wait(list(limiter._tasks), timeout=5)
        assert (await limiter.admit(k)).refusal == "rate_limit_tokens"
    finally:
        await limiter.aclose()
