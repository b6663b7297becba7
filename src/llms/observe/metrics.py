"""Prometheus metrics, fed by one finished `UsageRecord` per request (`observe`) and by gauges
read when they are scraped (`Sources`): nothing is counted inside the router or the failover
loop. A process-lifetime service: a reload never resets a counter.

Two modes, chosen by prometheus-client from the environment when it is first imported:
- one process (the default): the metrics live in this object's own registry; `render()`
  reads the gauges' sources and writes the text format;
- `PROMETHEUS_MULTIPROC_DIR` set (several worker processes behind one port): every process
  writes its values to files in that directory and `render()` — in whichever process the
  scrape lands — merges them all; each process then publishes its gauges every second
  (`refresh_every`), since a scrape cannot read another process's memory.

Labels stay bounded: `model` is the alias the client asked for only when the routing table
knows it (else `other`: a client cannot grow the series by sending made-up names),
`provider` comes from the config, `status` is the class (`2xx` … `5xx`), `outcome` and
an attempt's `result` are from fixed lists. Children are looked up once per label tuple
and cached: a request costs a few dict lookups and counter increments (see docs/metrics.md).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

from ..core.overhead import overhead_seconds
from ..usage import SinkStats, UsageRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"  # the model label of an alias the routing table does not know
NONE = "none"  # the provider label of a request no provider was tried for
MAX_MODELS = 1000  # a backstop on distinct model labels, should `known_models` be absent
STATUS_CLASS = {0: NONE, 1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
BREAKER_STATES = ("closed", "half-open", "open", "disabled")

# seconds; LLM answers take from tens of milliseconds to minutes
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# the gateway's own time: tens of microseconds to a few milliseconds
OVERHEAD_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


@dataclass(slots=True)
class Sources:
    """What the gauges read at scrape time (each may be absent): requests and streams in
    flight, the breaker state per provider, the ledger's counters, and the aliases the
    routing table knows (the `model` label's allow-list)."""

    requests: Callable[[], int] | None = None
    streams: Callable[[], int] | None = None
    breakers: Callable[[], Mapping[str, str]] | None = None
    ledger: Callable[[], SinkStats | None] | None = None
    known_models: Callable[[], Container[str]] | None = None


def multiprocess_dir() -> str | None:
    """The directory prometheus-client shares between worker processes, if set."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


# our codes for an attempt that got no HTTP answer (an upstream's own codes are not labels)
TRANSPORT_RESULTS = frozenset({"upstream_connection_error", "upstream_timeout", "upstream_bad_response"})


def attempt_result(a: Mapping[str, Any]) -> str:
    """An attempt's `result` label, from a fixed set: `ok`; the status when the upstream
    answered with an error (`429`, `503`, …: three digits at most); our transport code when
    it did not answer; else `error`."""
    if a["error"] is None:
        return "ok"
    status = a["status"]
    if isinstance(status, int) and 100 <= status <= 599:
        return str(status)
    return a["error"] if a["error"] in TRANSPORT_RESULTS else "error"


class Metrics:
    """The gateway's metrics. `observe(record)` once per finished request; `render()` per scrape."""

    def __init__(self, sources: Sources | None = None, *, namespace: str = "llms") -> None:
        self.sources = sources or Sources()
        self.multiprocess = multiprocess_dir() is not None
        # In multiprocess mode the values live in files and a scrape collects them from there:
        # registering the live objects too would count this process twice.
        self.registry = CollectorRegistry(auto_describe=True)
        reg = None if self.multiprocess else self.registry
        if not self.multiprocess:
            ProcessCollector(registry=self.registry)
        n = namespace
        self.requests = Counter(f"{n}_requests", "Client requests, by the alias asked for, the provider that "
                                "answered (or was tried last), status class and outcome.",
                                ("model", "provider", "status", "outcome"), registry=reg)  # fmt: skip
        self.attempts = Counter(f"{n}_upstream_attempts", "Tries at an upstream provider; result is ok, the "
                                "HTTP status of an error answer, or why no answer came (upstream_timeout, "
                                "upstream_connection_error, upstream_bad_response).", ("provider", "result"),
                                registry=reg)  # fmt: skip
        self.failovers = Counter(f"{n}_failovers", "Moves from one provider to another within a request.",
                                 ("model",), registry=reg)  # fmt: skip
        self.duration = Histogram(f"{n}_request_duration_seconds", "Request arrival to the end of its answer.",
                                  ("model", "provider"), buckets=DURATION_BUCKETS, registry=reg)  # fmt: skip
        self.ttft = Histogram(f"{n}_time_to_first_token_seconds", "Streamed requests: arrival to the first "
                              "content chunk.", ("model", "provider"), buckets=TTFT_BUCKETS, registry=reg)  # fmt: skip
        self.overhead = Histogram(f"{n}_gateway_overhead_seconds", "Answered requests: time in the gateway "
                                  "less the upstream attempts' time (docs/metrics.md).",
                                  buckets=OVERHEAD_BUCKETS, registry=reg)  # fmt: skip
        self.tokens = Counter(f"{n}_tokens", "Tokens the upstreams reported, by type (input, output).",
                              ("model", "provider", "type"), registry=reg)  # fmt: skip
        self.token_details = Counter(f"{n}_token_details", "Of those tokens: cached input and reasoning "
                                     "output (a part of llms_tokens_total, not in addition to it).",
                                     ("model", "provider", "type"), registry=reg)  # fmt: skip
        self.cost = Counter(f"{n}_cost_usd", "Cost in US dollars from the configured pricing (requests with "
                            "a known cost only).", ("model", "provider"), registry=reg)  # fmt: skip
        self.in_flight = Gauge(f"{n}_requests_in_flight", "Chat requests being handled now.", registry=reg,
                               multiprocess_mode="livesum")  # fmt: skip
        self.streams = Gauge(f"{n}_streams_in_flight", "Streamed answers being forwarded now.", registry=reg,
                             multiprocess_mode="livesum")  # fmt: skip
        self.breaker = Gauge(f"{n}_breaker_state", "1 for the state each provider's breaker is in.",
                             ("provider", "state"), registry=reg, multiprocess_mode="liveall")  # fmt: skip
        self.ledger_queued = Gauge(f"{n}_ledger_queued", "Records waiting in memory to be written.",
                                   registry=reg, multiprocess_mode="livesum")  # fmt: skip
        self.ledger_spooled = Gauge(f"{n}_ledger_spooled", "Records waiting in the local spool file.",
                                    registry=reg, multiprocess_mode="livesum")  # fmt: skip
        self.ledger_lost = Counter(f"{n}_ledger_records_not_written", "Records the ledger gave up on "
                                   "(failed: a write error; dropped: the queue was full or closed).",
                                   ("reason",), registry=reg)  # fmt: skip
        self._children: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # (model, provider, status, outcome)
        self._attempt_children: dict[tuple[str, str], Any] = {}  # (provider, result)
        self._failover_children: dict[str, Any] = {}  # model
        self._lost_seen = {"failed": 0, "dropped": 0}
        self._models: set[str] = set()

    # -- per request ---------------------------------------------------------------------------

    def observe(self, r: UsageRecord) -> None:
        """Count one finished request. Called once per request, after its answer went out."""
        model = self._model_label(r.model)
        provider = r.provider or NONE
        children = self._children
        key = (model, provider, r.status, r.outcome)
        bundle = children.get(key)
        if bundle is None:
            bundle = children[key] = self._bundle(model, provider, r.status, r.outcome)
        count, duration, ttft, tokens, cost = bundle
        count.inc()
        if r.duration_ms is not None:
            duration.observe(r.duration_ms / 1000.0)
        attempts = r.attempts
        if attempts:
            self._attempts(model, attempts)
        if r.stream:
            if r.ttft_ms is not None:
                ttft.observe(r.ttft_ms / 1000.0)
                if attempts and r.status < 400:
                    self.overhead.observe(overhead_seconds(r.ttft_ms / 1000.0, attempts))
        elif r.duration_ms is not None and attempts and r.status < 400:
            self.overhead.observe(overhead_seconds(r.duration_ms / 1000.0, attempts))
        if r.prompt_tokens:
            tokens[0].inc(r.prompt_tokens)
        if r.completion_tokens:
            tokens[1].inc(r.completion_tokens)
        if r.cached_tokens:
            tokens[2].inc(r.cached_tokens)
        if r.reasoning_tokens:
            tokens[3].inc(r.reasoning_tokens)
        if r.cost:
            cost.inc(r.cost)

    def _attempts(self, model: str, attempts: list[Any]) -> None:
        children = self._attempt_children
        previous = None
        for a in attempts:
            key = (a["provider"], attempt_result(a))
            child = children.get(key)
            if child is None:
                child = children[key] = self.attempts.labels(*key)
            child.inc()
            if previous is not None and a["provider"] != previous:
                f = self._failover_children.get(model)
                if f is None:
                    f = self._failover_children[model] = self.failovers.labels(model)
                f.inc()
            previous = a["provider"]

    def _bundle(self, model: str, provider: str, status: int, outcome: str) -> tuple[Any, ...]:
        """The children one (model, provider, status, outcome) request touches, built once."""
        tokens = (
            self.tokens.labels(model, provider, "input"),
            self.tokens.labels(model, provider, "output"),
            self.token_details.labels(model, provider, "cached"),
            self.token_details.labels(model, provider, "reasoning"),
        )
        return (
            self.requests.labels(model, provider, STATUS_CLASS.get(status // 100, NONE), outcome),
            self.duration.labels(model, provider),
            self.ttft.labels(model, provider),
            tokens,
            self.cost.labels(model, provider),
        )

    def _model_label(self, model: str) -> str:
        known = self.sources.known_models
        if known is not None:
            return model if model in known() else OTHER
        if model in self._models:
            return model
        if len(self._models) >= MAX_MODELS:
            return OTHER
        self._models.add(model)
        return model

    # -- per scrape ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Publish what the gauges' sources say now."""
        s = self.sources
        if s.requests is not None:
            self.in_flight.set(s.requests())
        if s.streams is not None:
            self.streams.set(s.streams())
        if s.breakers is not None:
            for provider, state in s.breakers().items():
                for candidate in BREAKER_STATES:
                    self.breaker.labels(provider, candidate).set(1 if candidate == state else 0)
        stats = s.ledger() if s.ledger is not None else None
        if stats is not None:
            self.ledger_queued.set(stats.queued)
            self.ledger_spooled.set(stats.spooled)
            for reason, now in (("failed", stats.failed), ("dropped", stats.dropped)):
                grown = now - self._lost_seen[reason]
                if grown > 0:
                    self.ledger_lost.labels(reason).inc(grown)
                    self._lost_seen[reason] = now

    def render(self) -> bytes:
        """The text exposition format of every metric (of every worker, in multiprocess mode)."""
        self.refresh()
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    async def refresh_every(self, interval: float = 1.0) -> None:
        """Multiprocess mode: keep this process's gauges current for a scrape elsewhere."""
        while True:
            self.refresh()
            await asyncio.sleep(interval)

    def close(self) -> None:
        """Multiprocess mode: this process's live gauges leave the merged view."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())
