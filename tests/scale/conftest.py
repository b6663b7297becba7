"""Fixtures for the scale-out tests: gateway processes (`--workers N` supervisors or plain
replicas) whose one provider points at the loopback fake upstream, stopped at the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fake_upstream import FakeUpstream
from tests.gateway_proc import GatewayProcess


def config(upstream: FakeUpstream, provider: str, model: str, **settings: Any) -> dict[str, Any]:
    return {
        "retries": 0,
        "shutdown": {"grace": 10},
        **settings,
        "providers": {
            provider: {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url(provider),
                "api_key": "sk-test",
                "models": {model: model},
            }
        },
    }


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def status_pid(url: str) -> int:
    """The pid of the process that answered, over a fresh connection (so the kernel's accept
    may hand it to any worker)."""
    with httpx.Client(timeout=5) as client:
        return int(client.get(url + "/status", headers={"Connection": "close"}).json()["pid"])


def pids_seen(url: str, want: int, tries: int = 300) -> set[int]:
    seen: set[int] = set()
    for _ in range(tries):
        seen.add(status_pid(url))
        if len(seen) >= want:
            break
    return seen


def in_flight(url: str) -> int:
    providers = httpx.get(url + "/status", timeout=5).json()["providers"]
    return sum(p.get("inflight", 0) for p in providers)


@pytest.fixture
def gateway_for() -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def start(cfg: dict[str, Any], *args: str, wait: bool = True) -> GatewayProcess:
        gw = GatewayProcess(cfg, args=list(args)).start(wait=wait)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop(timeout=20)
