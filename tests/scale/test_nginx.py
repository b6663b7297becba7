"""Two replicas (plain `llms --serve` processes, one provider each: `rep-a`, `rep-b`, both
serving the alias `m` from the fake upstream) behind a real nginx running deploy/nginx.conf's
upstream and proxy settings, under a bounded load of streamed and plain requests:

- SIGTERM to one replica: its streams finish, nginx moves new requests to the other, no client
  sees an error;
- kill -9 of one replica: the requests it held fail at the client at once and cleanly (a cut
  stream or a 502 envelope, never a hang), every other request is answered."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.fault import faults as f
from tests.fault.client import ANSWERED, ERRORED, Outcome, ask
from tests.gateway_proc import GatewayProcess

from .conftest import config, in_flight, wait_until
from .nginx_proc import Nginx, nginx_binary, render

pytestmark = pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (scripts/setup.d/60-nginx.sh)")


@dataclass
class Timed:
    start: float
    end: float
    stream: bool
    outcome: Outcome

    @property
    def replica(self) -> str | None:
        return self.outcome.headers.get("x-llms-provider")


@pytest.fixture
def replicas(upstream) -> Iterator[tuple[GatewayProcess, GatewayProcess, Nginx]]:
    a = GatewayProcess(config(upstream, "rep-a", "m")).start()
    b = GatewayProcess(config(upstream, "rep-b", "m")).start()
    proxy = Nginx([a.port, b.port]).start()
    yield a, b, proxy
    proxy.stop()
    for gw in (a, b):
        gw.stop(timeout=20)


async def load(url: str, seconds: float, loops: int = 6) -> list[Timed]:
    """`loops` clients, each sending one request after the other (streams and plain in turn)
    for `seconds`; every request is bounded by `ask`'s own 30 s deadline."""
    out: list[Timed] = []
    end = time.monotonic() + seconds

    async def client(n: int, session: aiohttp.ClientSession) -> None:
        i = 0
        while time.monotonic() < end:
            stream = (n + i) % 3 != 0
            start = time.monotonic()
            o = await ask(session, url, "m", f"m#{n}.{i}", stream=stream, deadline=30)
            out.append(Timed(start, time.monotonic(), stream, o))
            i += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(client(n, session) for n in range(loops)))
    return out


def test_render_keeps_the_deploy_settings():
    text = render([1001, 1002], 1003)
    assert "server 127.0.0.1:1001 max_fails=1 fail_timeout=10s;" in text
    assert "proxy_buffering off;" in text and "listen 127.0.0.1:1003;" in text
    assert "proxy_next_upstream error timeout;" in text and "non_idempotent" not in text.split("#")[0]


async def test_sigterm_to_one_replica_under_load_loses_nothing(upstream, replicas):
    a, b, proxy = replicas
    upstream.on("rep-a", "m", f.echo(delay=0.1))  # ~0.5 s per streamed answer
    upstream.on("rep-b", "m", f.echo(delay=0.1))
    task = asyncio.create_task(load(proxy.url, 6.0))
    assert await asyncio.to_thread(wait_until, lambda: in_flight(a.url) > 0, 10)
    term = time.monotonic()
    a.proc.send_signal(signal.SIGTERM)
    results = await task
    bad = [(r.outcome.kind, r.outcome.status, r.outcome.detail) for r in results if r.outcome.kind != ANSWERED]
    assert not bad, f"{bad}\n{proxy.errors()}"
    assert await asyncio.to_thread(a.proc.wait, 20) == 0
    log = a.output()
    held = int(log.split("shutting down: ")[1].split()[0])
    assert held >= 1 and "stopped after" in log  # it had requests in flight and finished them
    assert any(r.replica == "rep-a" and r.start < term < r.end for r in results)
    after = [r for r in results if r.start > term + 1.0]
    assert after and all(r.replica == "rep-b" for r in after)


async def test_kill_9_of_one_replica_fails_its_requests_cleanly_and_nothing_else(upstream, replicas):
    a, b, proxy = replicas
    upstream.on("rep-a", "m", f.echo(delay=0.3))  # ~1.5 s per streamed answer
    upstream.on("rep-b", "m", f.echo(delay=0.3))
    task = asyncio.create_task(load(proxy.url, 6.0))
    assert await asyncio.to_thread(wait_until, lambda: in_flight(a.url) > 0, 10)
    killed = time.monotonic()
    os.kill(a.proc.pid, signal.SIGKILL)
    await asyncio.to_thread(a.proc.wait, 5)
    # Until the kernel has torn the process down (a few ms), its listening socket still completes
    # handshakes; a POST nginx sent on such a connection was "held" by the dying replica too.
    dead = time.monotonic()
    results = await task
    failed = [r for r in results if r.outcome.kind != ANSWERED]
    assert failed, "the killed replica held requests"
    for r in failed:
        assert r.start < dead, (r.outcome.detail, "a request started after the replica was gone failed")
        assert r.end - killed < 5, ("no hang past the budget", r.outcome.detail)
        if r.outcome.status == 502:  # before the answer began: nginx's own answer, in OpenAI's envelope
            assert r.outcome.kind == ERRORED and r.outcome.code == "upstream_unavailable"
        else:  # a stream cut mid-way: the client sees a broken body, never a clean [DONE]
            assert r.stream and r.outcome.detail.startswith(("connection cut mid-body", "stream ")), r.outcome.detail
    assert all(r.outcome.kind == ANSWERED for r in results if r.start > dead)
    assert all(r.outcome.kind == ANSWERED for r in results if r.replica == "rep-b")
    assert b.proc.poll() is None
    assert len([r for r in results if r.start > dead]) >= 6
