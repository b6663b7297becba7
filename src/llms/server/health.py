"""Health for orchestrators: `/health` (liveness: the process answers) and `/health/ready`
(readiness: send me traffic). Not ready while draining (from the moment SIGTERM arrives), while
no provider is enabled, or while a registered required backend check (the ledger's PostgreSQL,
the shared limits' Redis) has been failing for longer than its grace period (`health.grace`).

`Readiness` is a process-lifetime service: `llms.services` builds it once (reloads keep it), the
draining flag is set by the shutdown path, and services add their checks with `add_check`. Checks run on their own
interval in the background, never on the probe's request: a probe costs one dict lookup, and a
slow backend cannot make the probe itself time out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

log = logging.getLogger("llms.health")

Check = Callable[[], Awaitable[object]]  # raises (or times out) when the backend is unreachable


@dataclass(slots=True)
class _Registered:
    name: str
    check: Check
    grace: float  # seconds of failing before readiness turns false (a blip is not an outage)
    interval: float
    timeout: float
    failing_since: float | None = None
    error: str = ""


class Readiness:
    """The readiness state: `enabled()` counts the providers of the current config (reloads
    swap it, so it is read per probe; `make_app` sets it to its router's); checks run from
    `start()` until `aclose()`."""

    def __init__(self, enabled: Callable[[], int] = lambda: 1, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.draining = False
        self._checks: dict[str, _Registered] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._clock = clock
        self._started = False

    def add_check(
        self, name: str, check: Check, *, grace: float = 30.0, interval: float = 5.0, timeout: float = 3.0
    ) -> None:
        """Register a required backend. `check()` should be a cheap round trip (`SELECT 1`,
        `PING`); it fails by raising. Added after `start()`, it starts at once."""
        entry = _Registered(name, check, grace, interval, timeout)
        self._checks[name] = entry
        if self._started:
            self._tasks.append(asyncio.ensure_future(self._poll(entry)))

    def start(self) -> None:
        self._started = True
        self._tasks = [asyncio.ensure_future(self._poll(entry)) for entry in self._checks.values()]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def run_check(self, entry: _Registered) -> None:
        try:
            await asyncio.wait_for(entry.check(), entry.timeout)
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # any failure of the backend is "unreachable"
            if entry.failing_since is None:
                entry.failing_since = self._clock()
                log.warning("readiness: %s unreachable: %s", entry.name, e or type(e).__name__)
            entry.error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        else:
            if entry.failing_since is not None:
                log.warning("readiness: %s reachable again", entry.name)
            entry.failing_since, entry.error = None, ""

    async def _poll(self, entry: _Registered) -> None:
        while True:
            await self.run_check(entry)
            await asyncio.sleep(entry.interval)

    def reasons(self) -> list[str]:
        """Why this process is not ready (empty: ready)."""
        out = []
        if self.draining:
            out.append("draining: shutting down")
        if not self.enabled():
            out.append("no provider is enabled")
        now = self._clock()
        for entry in self._checks.values():
            if entry.failing_since is not None and now - entry.failing_since > entry.grace:
                out.append(f"{entry.name} unreachable for {now - entry.failing_since:.0f}s: {entry.error}")
        return out

    def checks(self) -> dict[str, str]:
        return {n: "ok" if e.failing_since is None else "failing: " + e.error for n, e in self._checks.items()}


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def add_health_routes(app: web.Application, readiness: Readiness, models: Callable[[], int]) -> None:
    """`GET /health` and `GET /health/ready` on `app`."""

    async def health(request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def ready(request: web.Request) -> web.Response:
        reasons = readiness.reasons()
        if reasons:
            body: dict[str, object] = {"status": "unavailable", "reason": "; ".join(reasons)}
            if readiness.checks():
                body["checks"] = readiness.checks()
            return _json(body, status=503)
        body = {"status": "ready", "providers": readiness.enabled(), "models": models()}
        if readiness.checks():
            body["checks"] = readiness.checks()
        return _json(body)

    app.router.add_get("/health", health)
    app.router.add_get("/health/ready", ready)
