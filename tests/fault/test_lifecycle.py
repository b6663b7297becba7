"""Hot reload (file change, SIGHUP, a bad file) and graceful shutdown (SIGTERM drains, the
deadline cuts in-band, exit code 0), each on a gateway process of its own."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fake_upstream import FakeUpstream
from tests.gateway_proc import GatewayProcess

from . import faults as f
from . import ledger
from .client import ANSWERED, ERRORED, Outcome
from .conftest import many

SLOW = 0.25  # seconds between streamed pieces: the answer to "NAME#0" takes ~1.5 s


def config(upstream: FakeUpstream, models: dict[str, str], **settings: Any) -> dict[str, Any]:
    """One provider per model alias: `{alias: provider}`."""
    providers = {
        provider: {
            "type": "OpenAiProvider",
            "base_url": upstream.base_url(provider),
            "api_key": "sk-test",
            "models": {alias: alias},
        }
        for alias, provider in models.items()
    }
    return {"retries": 0, "shutdown": {"grace": 10}, **settings, "providers": providers}


@pytest.fixture
def gateway_for(upstream: FakeUpstream) -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def start(cfg: dict[str, Any]) -> GatewayProcess:
        gw = GatewayProcess(cfg, args=["--verbose"]).start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


def served_models(gw: GatewayProcess) -> set[str]:
    return {m["id"] for m in httpx.get(gw.url + "/v1/models", timeout=5).json()["data"]}


def wait_until(predicate: Any, timeout: float = 8.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


async def first_chunk_then_rest(gw: GatewayProcess, model: str) -> tuple[asyncio.Task[list[Outcome]], float]:
    """Start a slow stream; return its task once the gateway is surely streaming it."""
    task = asyncio.create_task(many(gw, model, 1))
    # On a loaded machine the request may take a while to reach the gateway: wait until a
    # provider has it in flight, then give its first chunk (sent at once) time to arrive.
    await asyncio.to_thread(wait_until, lambda: in_flight(gw) > 0, 10.0)
    await asyncio.sleep(0.3)
    return task, time.monotonic()


def in_flight(gw: GatewayProcess) -> int:
    providers = httpx.get(gw.url + "/status", timeout=5).json()["providers"]
    return sum(p.get("inflight", 0) for p in providers)


async def test_file_change_reloads_and_in_flight_stream_finishes_on_the_old_config(upstream, gateway_for):
    upstream.on("old-p", "old-model", f.echo(delay=0.6))  # ~4 s
    upstream.on("new-p", "new-model", f.echo())
    gw = gateway_for(config(upstream, {"old-model": "old-p"}))
    task, _ = await first_chunk_then_rest(gw, "old-model")
    gw.config_path.write_text(json.dumps(config(upstream, {"new-model": "new-p"})))
    assert await asyncio.to_thread(wait_until, lambda: served_models(gw) == {"new-model"})
    assert not task.done()  # the reload happened while the old stream was running
    assert "previous config: 1 providers closed" not in gw.output()
    [in_flight] = await task
    [fresh] = await many(gw, "new-model", 1)
    [gone] = await many(gw, "old-model", 1, stream=False)
    outcomes = [in_flight, fresh, gone]
    row = ledger.record("hot reload (file change)", outcomes, faults=1)
    assert row.lost == 0, row.lost_details
    assert in_flight.kind == ANSWERED and in_flight.headers["x-llms-provider"] == "old-p"
    assert fresh.kind == ANSWERED and gone.status == 404
    log = gw.output()
    assert "config reloaded from" in log and "(file changed)" in log
    assert await asyncio.to_thread(wait_until, lambda: "previous config: 1 providers closed" in gw.output())


async def test_bad_file_is_rejected_and_the_old_config_keeps_serving(upstream, gateway_for):
    upstream.on("steady-p", "steady", f.echo())
    gw = gateway_for(config(upstream, {"steady": "steady-p"}))
    gw.config_path.write_text('{"providers": {')
    assert await asyncio.to_thread(wait_until, lambda: "rejected" in gw.output())
    bad_schema = config(upstream, {"steady": "steady-p"}, retries={"max": -1})
    gw.config_path.write_text(json.dumps(bad_schema))
    assert await asyncio.to_thread(wait_until, lambda: "retries.max" in gw.output())
    outcomes = await many(gw, "steady", 3)
    row = ledger.record("hot reload (invalid file)", outcomes, faults=2, allowed=frozenset({ANSWERED}))
    assert row.lost == 0, row.lost_details
    log = gw.output()
    path = str(gw.config_path)
    assert f"rejected: {path}: line 1, column 16: invalid JSON" in log
    assert f"rejected: {path}: retries.max: expected a whole number of at least 0" in log
    assert "still serving the previous config" in log and "config reloaded" not in log


async def test_sighup_reloads(upstream, gateway_for):
    upstream.on("hup-p", "aaaa", f.echo())
    upstream.on("hup-p", "bbbb", f.echo())
    gw = gateway_for(config(upstream, {"aaaa": "hup-p"}))
    before = os.stat(gw.config_path)
    # the same size and mtime: the file watch cannot see it, only the signal reloads
    gw.config_path.write_text(gw.config_path.read_text().replace('"aaaa"', '"bbbb"'))
    os.utime(gw.config_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    time.sleep(1.5)
    assert served_models(gw) == {"aaaa"}
    gw.proc.send_signal(signal.SIGHUP)
    assert await asyncio.to_thread(wait_until, lambda: served_models(gw) == {"bbbb"})
    assert "(SIGHUP)" in gw.output()
    outcomes = await many(gw, "bbbb", 2)
    row = ledger.record("hot reload (SIGHUP)", outcomes, faults=0, allowed=frozenset({ANSWERED}))
    assert row.lost == 0, row.lost_details


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


async def test_sigterm_drains_in_flight_streams_then_exits_0(upstream, gateway_for):
    upstream.on("drain-p", "drain", f.echo(delay=SLOW))
    gw = gateway_for(config(upstream, {"drain": "drain-p"}))
    task, _ = await first_chunk_then_rest(gw, "drain")
    gw.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(wait_until, lambda: refused(gw.port), 3)  # no longer accepting
    [o] = await task
    code = await asyncio.to_thread(gw.proc.wait, 15)
    row = ledger.record("graceful shutdown (drain)", [o], faults=1, allowed=frozenset({ANSWERED}))
    assert row.lost == 0, row.lost_details
    assert code == 0
    assert upstream.received("drain-p")[0].finished  # the upstream answer ran to its end
    log = gw.output()
    assert "shutting down: 1 requests in flight get up to 10s" in log and "stopped after" in log


async def test_shutdown_deadline_ends_streams_in_band_then_exits_0(upstream, gateway_for):
    upstream.on("deadline-p", "deadline", f.echo(delay=1.0))
    gw = gateway_for(config(upstream, {"deadline": "deadline-p"}, shutdown={"grace": 1}))
    task, _ = await first_chunk_then_rest(gw, "deadline")
    gw.proc.send_signal(signal.SIGTERM)
    [o] = await task
    code = await asyncio.to_thread(gw.proc.wait, 15)
    row = ledger.record("graceful shutdown (deadline)", [o], faults=1, allowed=frozenset({ERRORED}))
    assert row.lost == 0, row.lost_details
    assert code == 0
    assert o.status == 200 and o.code == "shutting_down" and o.text  # in-band, after some content
    call = upstream.received("deadline-p")[0]
    assert await asyncio.to_thread(upstream.wait_for, lambda: call.disconnected, 5)
