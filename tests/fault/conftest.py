"""Fixtures of the fault-injection suite: one gateway subprocess whose providers all point at
the loopback fake upstream — for every scenario `NAME` a provider pair `NAME-a` (first) and
`NAME-b` (fallback) serving the model alias `NAME`, or just `NAME-a` for `*-solo` names —
with short timeouts, one retry, quick breakers and 1 s keep-alives, so each fault plays out
in seconds. The summary table is printed at the end of the run."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from tests.fake_upstream import FakeUpstream
from tests.gateway_proc import GatewayProcess

from . import ledger
from .client import Outcome, ask

SCENARIOS = [
    "reset-before-headers",
    "reset-before-headers-plain",
    "hang-before-headers",
    "hang-before-headers-plain",
    "hang-after-headers",
    "comments-only",
    "slow-drip",
    "reset-mid-stream",
    "stall-mid-stream",
    "ends-without-done",
    "malformed-sse-early",
    "malformed-sse-late",
    "malformed-json",
    "5xx-storm",
    "429-retry-after",
    "429-no-retry-after",
    "429-no-retry-after-plain",
    "429-everywhere",
    "oversized-chunk",
    "endless-line",
    "all-down",
    "budget",
    "bad-key",
    "recovering",
    "capped",
    "capped-solo",
    "keepalive-solo",
    "slow-reader-solo",
    "retry-once-solo",
    "retry-after-once-solo",
    "load-ok",
    "load-flaky",
    "load-cut",
]
PER_PROVIDER: dict[str, dict[str, Any]] = {
    "capped-a": {"concurrency": 2},
    "capped-solo-a": {"concurrency": 1},
    "keepalive-solo-a": {"timeouts": {"first_byte": 6}},
    "slow-reader-solo-a": {"timeouts": {"idle": 10}},
}
FAULT_SETTINGS: dict[str, Any] = {
    "timeouts": {"connect": 1, "first_byte": 1.5, "idle": 0.8, "total": 20},
    "retries": {"max": 1, "base_delay": 0.05, "max_delay": 0.2, "max_wait": 2},
    "breaker": {"failures": 3, "cooldown": 1, "max_cooldown": 2, "window": 10, "min_requests": 10},
    "budget": 30,
    "streaming": {"keepalive": 1, "write_timeout": 3},
    "shutdown": {"grace": 5},
}


def fault_config(upstream: FakeUpstream, names: list[str], **settings: Any) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    for name in names:
        for side in ("a",) if name.endswith("-solo") else ("a", "b"):
            pname = f"{name}-{side}"
            providers[pname] = {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url(pname),
                "api_key": "sk-fault-test",
                "models": {name: name},
                **PER_PROVIDER.get(pname, {}),
            }
    return {**FAULT_SETTINGS, **settings, "providers": providers}


def raise_fd_limit() -> None:
    """1,000 concurrent streams need ~4,000 sockets between client, gateway and upstream."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= 8192:
        return
    if hard != resource.RLIM_INFINITY and hard < 8192:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))  # root (as in CI) may raise it
            return
        except (ValueError, OSError):
            pass
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@pytest.fixture(scope="session")
def fault_gateway(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    raise_fd_limit()  # before the subprocess starts: it inherits the limit
    gw = GatewayProcess(fault_config(upstream, SCENARIOS), args=["--verbose"]).start()
    yield gw
    gw.stop()


def gateway_status(gw: GatewayProcess) -> dict[str, Any]:
    return httpx.get(gw.url + "/status", timeout=5).json()


def provider_status(gw: GatewayProcess, name: str) -> dict[str, Any]:
    return next(p for p in gateway_status(gw)["providers"] if p["name"] == name)


async def many(
    gw: GatewayProcess,
    model: str,
    count: int,
    *,
    stream: bool = True,
    sequential: bool = False,
    content_size: int = 0,
    **kw: Any,
) -> list[Outcome]:
    """`count` requests (content `NAME#i`, padded to `content_size`), concurrently unless
    `sequential`."""
    pad = "y" * content_size
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        calls = (ask(session, gw.url, model, f"{model}#{i}{pad}", stream=stream, **kw) for i in range(count))
        if sequential:
            return [await call for call in calls]
        return list(await asyncio.gather(*calls))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ledger.ROWS:
        terminalreporter.section("fault injection summary")
        for line in ledger.table():
            terminalreporter.write_line(line)
