"""Readiness for orchestrators: `/health/ready` says 503 while draining (from SIGTERM on, while
`shutdown.delay` keeps serving), while no provider is enabled, and when a registered backend
check has failed for longer than its grace period; `/health` stays 200 throughout."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import httpx
from aiohttp import web

from llms.server.health import Readiness, add_health_routes
from tests.fault import faults as f
from tests.fault.client import ANSWERED, ask
from tests.gateway_proc import free_port

from .conftest import config, in_flight, wait_until


class Backend:
    """A scriptable backend check: raises while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionRefusedError("connection refused")


async def test_backend_check_turns_readiness_false_only_after_its_grace():
    backend = Backend()
    readiness = Readiness(lambda: 1)
    readiness.add_check("postgresql", backend, grace=0.6, interval=0.05, timeout=1)
    app = web.Application()
    add_health_routes(app, readiness, lambda: 3)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    readiness.start()
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:

            async def ready() -> tuple[int, dict]:
                async with s.get(url + "/health/ready") as r:
                    return r.status, await r.json()

            status, body = await ready()
            assert status == 200
            assert body == {"status": "ready", "providers": 1, "models": 3, "checks": {"postgresql": "ok"}}
            backend.down = True
            calls = backend.calls
            while backend.calls < calls + 2:
                await asyncio.sleep(0.02)
            status, body = await ready()  # failing, but within the grace period: a blip
            assert status == 200 and body["checks"]["postgresql"].startswith("failing: ConnectionRefusedError")
            await asyncio.sleep(0.8)
            status, body = await ready()
            assert status == 503 and body["reason"].startswith("postgresql unreachable for"), body
            async with s.get(url + "/health") as r:
                assert r.status == 200  # liveness is not readiness: no restart for a database outage
            backend.down = False
            calls = backend.calls
            while backend.calls < calls + 2:
                await asyncio.sleep(0.02)
            status, body = await ready()
            assert status == 200 and body["checks"] == {"postgresql": "ok"}
    finally:
        await readiness.aclose()
        await runner.cleanup()


async def test_a_hanging_check_counts_as_failing():
    async def hangs() -> None:
        await asyncio.sleep(3600)

    clock = [0.0]
    readiness = Readiness(lambda: 1, clock=lambda: clock[0])
    readiness.add_check("redis", hangs, grace=5, timeout=0.05)
    entry = readiness._checks["redis"]
    await readiness.run_check(entry)
    assert readiness.reasons() == []
    clock[0] = 6.0
    assert readiness.reasons() == ["redis unreachable for 6s: TimeoutError"]


async def test_draining_replica_is_not_ready_but_still_serves_during_shutdown_delay(upstream, gateway_for):
    upstream.on("delay-a", "delay", f.echo(delay=0.25))
    gw = gateway_for(config(upstream, "delay-a", "delay", shutdown={"grace": 10, "delay": 2}))
    async with aiohttp.ClientSession() as s:
        first = asyncio.create_task(ask(s, gw.url, "delay", "delay#0"))
        assert await asyncio.to_thread(wait_until, lambda: in_flight(gw.url) > 0)
        gw.proc.send_signal(signal.SIGTERM)

        def draining() -> bool:
            r = httpx.get(gw.url + "/health/ready", timeout=2)
            return r.status_code == 503 and "draining" in r.json()["reason"]

        assert await asyncio.to_thread(wait_until, draining, 2)
        assert httpx.get(gw.url + "/health", timeout=2).status_code == 200
        late = await ask(s, gw.url, "delay", "delay#1")  # still accepted and answered during the delay
        assert late.kind == ANSWERED, late.detail
        assert (await first).kind == ANSWERED
    assert await asyncio.to_thread(gw.proc.wait, 20) == 0
    assert "not ready, still serving for 2s" in gw.output()
