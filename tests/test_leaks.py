"""No task, connection or memory leaks: thousands of mixed requests (plain, streamed, clients
that disconnect mid-stream, failures, unknown models) through the real gateway, then its
live tasks and open file descriptors return to where they were after a warm-up."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx

from . import fake_upstream as fu

MSG = [{"role": "user", "content": "hi"}]


def runtime(gateway) -> dict:
    return httpx.get(gateway.url + "/status", timeout=5).json()["runtime"]


async def one(session: aiohttp.ClientSession, url: str, i: int) -> str:
    kind = i % 5
    body = {"model": "chat", "messages": MSG}
    if kind == 3:
        body["model"] = "shared"  # both providers fail: 502
    if kind == 4:
        body["model"] = "no-such-model"
    if kind in (1, 2):
        body["stream"] = True
    async with session.post(url, json=body) as r:
        if kind == 2:  # read the first event, then go away
            await r.content.readline()
            r.close()
            return "disconnected"
        await r.read()
        # every provider failing is a 502, or a 503 once their circuit breakers are open
        return "failed" if r.status in (502, 503) else str(r.status)


async def storm(url: str, count: int, concurrency: int) -> dict[str, int]:
    results: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def run(i: int) -> None:
            async with sem:
                outcome = await one(session, url, i)
            results[outcome] = results.get(outcome, 0) + 1

        await asyncio.gather(*(run(i) for i in range(count)))
    return results


def settled(gateway, limit_tasks: int, limit_fds: int, timeout: float = 10.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        now = runtime(gateway)
        if (now["tasks"] <= limit_tasks and now["open_fds"] <= limit_fds) or time.monotonic() > end:
            return now
        time.sleep(0.2)


def test_thousands_of_requests_leave_no_tasks_or_connections(gateway, upstream):
    upstream.on(
        "primary", "p-chat", lambda c: (fu.stream(["x"] * 5, delay=0.01) if c.body.get("stream") else fu.reply("ok"))(c)
    )
    upstream.on("primary", "shared", fu.error(500, "down"))
    upstream.on("secondary", "shared", fu.error(503, "down"))
    url = gateway.url + "/v1/chat/completions"

    before = runtime(gateway)
    # warm-up with the same mix: keep-alive pools (at most one connection per concurrent
    # request and provider) and caches reach their working size
    asyncio.run(storm(url, 1000, 16))
    time.sleep(0.5)
    warm = runtime(gateway)
    assert warm["open_fds"] <= before["open_fds"] + 2 * 16 + 4, (before, warm)

    results = asyncio.run(storm(url, 3000, 16))
    assert results == {"200": 1200, "disconnected": 600, "failed": 600, "404": 600}

    # three times the traffic adds nothing that stays: no task, socket or memory growth
    after = settled(gateway, warm["tasks"] + 1, warm["open_fds"] + 4)
    assert after["tasks"] <= warm["tasks"] + 1, (warm, after)
    assert after["open_fds"] <= warm["open_fds"] + 4, (warm, after)
    assert after["rss_mb"] < warm["rss_mb"] + 20, (warm, after)
