"""Prometheus metrics, fed by one finished `UsageRecord` per request (`observe`) and by gauges
read when they are scraped (`Sources`): nothing is counted inside the router or the failover
loop. A process-lifetime service: a reload never resets a counter.

The hot path is plain Python: `observe` adds to lists cached per label tuple (a histogram
is `[sum, count per bucket…]`, its bucket found by `bisect`), ~1 µs a request. Going through
prometheus-client's metric objects instead cost ~8 µs (a lock and a method call per
increment; measured, see docs/observability.md). prometheus-client does the rest
(`exposition.py`: the names, the collector, the multiprocess publishing):

- one process (the default): a collector turns the tallies and the gauges' sources into
  metric families when `/metrics` is scraped;
- `PROMETHEUS_MULTIPROC_DIR` set (several worker processes behind one port): each process
  publishes what its tallies grew by into prometheus-client's metrics every second and at a
  scrape (`publish`), which keep their values in files in that directory; a scrape — in
  whichever process it lands — merges them all (`MultiProcessCollector`).

Labels stay bounded: `model` is the alias the client asked for only when the routing table
knows it (else `other`: a client cannot grow the series by sending made-up names),
`provider` comes from the config, `status` is the class (`2xx` … `5xx`), `outcome` and an
attempt's `result` come from fixed sets."""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.process_collector import ProcessCollector

from ..core.overhead import overhead_seconds
from ..usage import SinkStats, UsageRecord
from .exposition import DURATION_BUCKETS, OVERHEAD_BUCKETS, TTFT_BUCKETS, Collector, Shared

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"  # the model label of an alias the routing table does not know
NONE = "none"  # the provider label of a request no provider served
MAX_MODELS = 1000  # a backstop on distinct model labels, should `known_models` be absent
STATUS_CLASS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
# our codes for an attempt that got no HTTP answer (an upstream's own codes are not labels)
TRANSPORT_RESULTS = frozenset({"upstream_connection_error", "upstream_timeout", "upstream_bad_response"})


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


def attempt_result(a: Mapping[str, Any]) -> str:
    """An attempt's `result` label, from a fixed set: `ok`; the status when the upstream
    answered with an error (`429`, `503`, …); our transport code when it did not answer."""
    if a["error"] is None:
        return "ok"
    status = a["status"]
    if isinstance(status, int) and 100 <= status <= 599:
        return str(status)
    return a["error"] if a["error"] in TRANSPORT_RESULTS else "error"


def _histogram(buckets: tuple[float, ...]) -> list[float]:
    """`[sum, count in bucket 0, …, count above the last bound]`."""
    return [0.0] * (len(buckets) + 2)


class Metrics:
    """The gateway's metrics. `observe(record)` once per finished request; `render()` per scrape."""

    def __init__(self, sources: Sources | None = None) -> None:
        self.sources = sources or Sources()
        self.multiprocess = multiprocess_dir() is not None
        # tallies: label tuple -> counts
        self.requests: dict[tuple[str, str, str, str], list[float]] = {}
        self.attempts: dict[tuple[str, str], list[float]] = {}
        self.failovers: dict[str, list[float]] = {}
        # (model, provider) -> [duration histogram, ttft histogram, [input, output, cached, reasoning], [cost]]
        self.served: dict[tuple[str, str], list[list[float]]] = {}
        self.overhead = _histogram(OVERHEAD_BUCKETS)
        self._bundles: dict[tuple[str, str | None, int, str], tuple[list[float], list[list[float]], str]] = {}
        self._models: set[str] = set()
        self.registry = CollectorRegistry(auto_describe=False)
        if self.multiprocess:
            self._shared = Shared()
        else:
            self.registry.register(Collector(self))
            ProcessCollector(registry=self.registry)

    # -- per request ---------------------------------------------------------------------------

    def observe(self, r: UsageRecord) -> None:
        """Count one finished request (on the event loop, after its answer went out)."""
        key = (r.model, r.provider, r.status, r.outcome)
        bundle = self._bundles.get(key)
        if bundle is None:
            bundle = self._bundle(*key)
        count, (duration, ttft, tokens, cost), _ = bundle
        count[0] += 1
        if r.duration_ms is not None:
            seconds = r.duration_ms / 1000.0
            duration[0] += seconds
            duration[bisect_left(DURATION_BUCKETS, seconds) + 1] += 1
        attempts = r.attempts
        if attempts:
            self._attempts(bundle, attempts)
        answered = attempts and r.status < 400
        if r.stream:
            if r.ttft_ms is not None:
                seconds = r.ttft_ms / 1000.0
                ttft[0] += seconds
                ttft[bisect_left(TTFT_BUCKETS, seconds) + 1] += 1
                if answered:
                    self._overhead(overhead_seconds(seconds, attempts))
        elif answered and r.duration_ms is not None:
            self._overhead(overhead_seconds(r.duration_ms / 1000.0, attempts))
        if r.prompt_tokens:
            tokens[0] += r.prompt_tokens
        if r.completion_tokens:
            tokens[1] += r.completion_tokens
        if r.cached_tokens:
            tokens[2] += r.cached_tokens
        if r.reasoning_tokens:
            tokens[3] += r.reasoning_tokens
        if r.cost:
            cost[0] += r.cost

    def _overhead(self, seconds: float) -> None:
        h = self.overhead
        h[0] += seconds
        h[bisect_left(OVERHEAD_BUCKETS, seconds) + 1] += 1

    def _attempts(self, bundle: Any, attempts: list[Any]) -> None:
        tallies = self.attempts
        previous = None
        for a in attempts:
            key = (a["provider"], attempt_result(a))
            tally = tallies.get(key)
            if tally is None:
                tally = tallies[key] = [0.0]
            tally[0] += 1
            if previous is not None and a["provider"] != previous:
                model = bundle[2]
                f = self.failovers.get(model)
                if f is None:
                    f = self.failovers[model] = [0.0]
                f[0] += 1
            previous = a["provider"]

    def _bundle(
        self, model: str, provider: str | None, status: int, outcome: str
    ) -> tuple[list[float], list[list[float]], str]:
        """The tallies one (model, provider, status, outcome) request touches, found once."""
        label = self._model_label(model)
        served = provider or NONE
        count = self.requests.setdefault((label, served, STATUS_CLASS.get(status // 100, NONE), outcome), [0.0])
        per = self.served.get((label, served))
        if per is None:
            per = self.served[(label, served)] = [
                _histogram(DURATION_BUCKETS), _histogram(TTFT_BUCKETS), [0.0] * 4, [0.0]
            ]  # fmt: skip
        bundle = (count, per, label)
        if label != OTHER:  # (a name the table does not know is neither cached nor kept)
            self._bundles[(model, provider, status, outcome)] = bundle
        return bundle

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

    def render(self) -> bytes:
        """The text exposition format of every metric (of every worker, in multiprocess mode)."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        self.publish()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    def publish(self) -> None:
        """Multiprocess mode: hand what grew since the last call to the shared files."""
        self._shared.publish(self)

    async def refresh_every(self, interval: float = 1.0) -> None:
        """Multiprocess mode: keep this process's share current for a scrape elsewhere."""
        while True:
            self.publish()
            await asyncio.sleep(interval)

    def close(self) -> None:
        """Multiprocess mode: this process's live gauges leave the merged view."""
        if self.multiprocess:
            self.publish()
            multiprocess.mark_process_dead(os.getpid())

    def gauges(self) -> dict[str, Any]:
        """What the sources say now: in flight, breakers, the ledger."""
        s = self.sources
        stats = s.ledger() if s.ledger is not None else None
        return {
            "requests": s.requests() if s.requests is not None else None,
            "streams": s.streams() if s.streams is not None else None,
            "breakers": s.breakers() if s.breakers is not None else {},
            "ledger": stats,
        }
