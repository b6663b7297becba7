"""Part of the composition root: the observability services (issue 13) built from the first
`llms.json` and living as long as the process, like the ledger — Prometheus metrics (on by
default), OpenTelemetry traces (when an OTLP endpoint is configured) — and the one function
every finished request's record goes through: converted once into a `UsageRecord`, then
handed to the ledger, the metrics and the tracer, in that order, on the event loop (each only
appends to a queue or bumps counters; see docs/observability.md for the measured cost)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from .config import Config, ConfigError
from .core.types import RequestRecord
from .observe.metrics import CONTENT_TYPE, Metrics
from .observe.tracing import TracingUnavailable, tracing_from
from .router import Router
from .server.chat import ChatHandler
from .usage import Sink
from .usage.ledger import Ledger

log = logging.getLogger("llms")


@dataclass(slots=True)
class Observability:
    metrics: Metrics | None = None
    tracing: Any = None  # observe.otel.Tracing (not imported unless tracing is on)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def render(self) -> Callable[[], bytes] | None:
        return None if self.metrics is None else self.metrics.render

    content_type = CONTENT_TYPE

    def bind(self, router: Router, chat: ChatHandler, sink: Sink | None) -> None:
        """Point the gauges at what they read when scraped (the server exists now)."""
        metrics = self.metrics
        if metrics is None:
            return
        s = metrics.sources
        s.requests = lambda: len(chat.active)
        s.streams = lambda: chat.driver.streams
        s.breakers = lambda: _breaker_states(router)
        s.known_models = lambda: router.candidates
        if sink is not None:
            s.ledger = sink.stats
        if metrics.multiprocess:  # another worker may answer the scrape: publish every second
            self.tasks.append(asyncio.ensure_future(metrics.refresh_every()))

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.metrics is not None:
            self.metrics.close()
        if self.tracing is not None:  # sends what is buffered (bounded by the exporter's timeout)
            await asyncio.to_thread(self.tracing.shutdown)


def open_observability(config: Config, version: str = "") -> Observability:
    """Metrics unless `"telemetry": false` / `{"metrics": false}`; tracing when an endpoint
    is configured here or in the OTEL_* environment."""
    settings = config.telemetry
    metrics = Metrics() if settings.metrics else None
    try:
        tracing = tracing_from(settings.otlp_endpoint, version=version) if settings.traces else None
    except TracingUnavailable as e:  # a start-up error naming the setting, not a traceback
        where = "telemetry.otlp_endpoint" if settings.otlp_endpoint else "$OTEL_EXPORTER_OTLP_ENDPOINT"
        raise ConfigError(config.source, where, str(e)) from None
    if tracing is not None:
        log.info("tracing: OTLP/HTTP to %s", tracing.endpoint)
    return Observability(metrics, tracing)


def recorder(sink: Sink | None, obs: Observability) -> Callable[[RequestRecord], None] | None:
    """What `services.record` is: None when nothing wants records; the ledger's own `record`
    when only it does (as before metrics existed); else convert once and hand to each."""
    metrics, tracing = obs.metrics, obs.tracing
    if sink is None and metrics is None and tracing is None:
        return None
    ledger = Ledger(cast(Sink, sink))  # with no sink, only its conversion (and price cache) is used
    if metrics is None and tracing is None:
        return ledger.record
    convert = ledger.usage_record
    submit = None if sink is None else sink.submit
    observe = None if metrics is None else metrics.observe
    finish = None if tracing is None else tracing.finish

    def record(r: RequestRecord) -> None:
        u = convert(r, time.perf_counter())
        if submit is not None:
            submit(u)
        if observe is not None:
            observe(u)
        if finish is not None:
            finish(u)

    return record


def _breaker_states(router: Router) -> dict[str, str]:
    """Provider → its breaker's state, for those that have one."""
    out = {}
    for name, health in router.health().items():
        breaker = health.get("breaker")
        if isinstance(breaker, dict) and "state" in breaker:
            out[name] = str(breaker["state"])
    return out
