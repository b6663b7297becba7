"""Two real gateway processes on one real Redis: they hold one limit together, a revocation
through one is refused by the other within a second, and when Redis stops mid-test requests
go on being served (per-process limits), loudly, with a /status flag."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pytest

from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess
from .gateway_keys import ADMIN_KEY, ENV, admin, create_key, keys_config
from .redis_server import RedisServer
from .test_cli import llms

BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def pair(upstream: FakeUpstream, redis_server: RedisServer) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Two gateways sharing one home (so one SQLite database of keys) and one Redis."""
    config = keys_config(upstream, redis_server.url)
    a = GatewayProcess(config, env=ENV).start()
    b = GatewayProcess(config, env=ENV, home=a.home).start()
    yield a, b
    a.stop()
    b.stop()


async def post_many(urls: list[str], key: str, n: int) -> list[int]:
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * n)) as session:

        async def one(url: str) -> int:
            async with session.post(url + "/v1/chat/completions", json=BODY, headers=headers) as r:
                await r.read()
                return r.status

        return list(await asyncio.gather(*(one(url) for url in urls for _ in range(n))))


async def until_known(url: str, key: str, timeout: float = 5.0) -> None:
    """Wait until a gateway knows a key another one created (its table poll)."""
    end = time.monotonic() + timeout
    while (await post_many([url], key, 1))[0] == 401:
        assert time.monotonic() < end
        await asyncio.sleep(0.05)


async def test_two_gateways_hold_one_limit_and_see_one_revocation(pair: tuple[GatewayProcess, GatewayProcess]):
    a, b = pair
    key = create_key(a.url, "shared-twenty", rpm=20)
    while 60 - time.time() % 60 < 15:  # the burst stays within one minute's window
        await asyncio.sleep(0.5)
    await until_known(b.url, key)  # (this admits one request)
    statuses = await post_many([a.url, b.url], key, 40)
    assert statuses.count(200) == 19 and statuses.count(429) == 61

    other = create_key(a.url, "revoked-soon")
    await until_known(b.url, other)
    status, _ = admin(a.url, "DELETE", "/admin/keys/revoked-soon")
    assert status == 200
    revoked_at = time.monotonic()
    while (await post_many([b.url], other, 1))[0] != 401:
        assert time.monotonic() - revoked_at < 1.0, "replica b still served a revoked key after 1 s"
        await asyncio.sleep(0.02)


async def test_redis_stopped_mid_test(pair: tuple[GatewayProcess, GatewayProcess], redis_server: RedisServer):
    a, _ = pair
    key = create_key(a.url, "through-outage", rpm=1000)
    assert (await post_many([a.url], key, 3)) == [200] * 3
    redis_server.stop()
    started = time.monotonic()
    assert (await post_many([a.url], key, 5)) == [200] * 5  # served, counted per process
    assert time.monotonic() - started < 10
    status, body = admin(a.url, "GET", "/status")
    assert status == 200 and body["keys"]["limits"]["redis"] == "down"
    assert "Redis at redis://127.0.0.1" in a.output() and "unreachable" in a.output()
    redis_server.start()
    end = time.monotonic() + 5
    while admin(a.url, "GET", "/status")[1]["keys"]["limits"]["redis"] != "ok":
        await post_many([a.url], key, 1)  # the next request after the retry interval tries Redis
        assert time.monotonic() < end
        await asyncio.sleep(0.2)
    assert ADMIN_KEY not in a.output()


async def test_fail_closed_refuses_while_redis_is_down(upstream: FakeUpstream, redis_server: RedisServer):
    gw = GatewayProcess(keys_config(upstream, redis_server.url, fail_closed=True), env=ENV).start()
    try:
        key = create_key(gw.url, "closed", rpm=100)
        assert (await post_many([gw.url], key, 1)) == [200]
        redis_server.stop()
        assert (await post_many([gw.url], key, 1)) == [503]
    finally:
        gw.stop()


async def test_cli_revocation_reaches_both_replicas(pair: tuple[GatewayProcess, GatewayProcess]):
    a, b = pair
    key = create_key(a.url, "cli-revoked", rpm=1000)
    await until_known(b.url, key)
    done = await asyncio.to_thread(llms, "--config", str(a.config_path), "keys", "revoke", "cli-revoked", home=a.home)
    assert "revoked" in done.stdout
    revoked_at = time.monotonic()
    while await post_many([a.url, b.url], key, 1) != [401, 401]:
        assert time.monotonic() - revoked_at < 1.0, "a replica still served a key revoked with the CLI after 1 s"
        await asyncio.sleep(0.02)
