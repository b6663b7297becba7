"""Prometheus metrics, fed by one finished `UsageRecord` per request (`observe`) and by gauges
read when they are scraped (`Sources`): nothing is counted inside the router or the failover
loop. A process-lifetime service: a reload never resets a counter.

The hot path is plain Python: `observe` adds to lists cached per label tuple (a histogram
is `[sum, count per bucket…]`, its bucket found by `bisect`), ~1 µs a request. Going through
prometheus-client's metric objects instead cost ~8 µs (a lock and a method call per
increment; measured, see docs/observability.md). prometheus-client does the rest:

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
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

from ..core.overhead import overhead_seconds
from ..usage import SinkStats, UsageRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"  # the model label of an alias the routing table does not know
NONE = "none"  # the provider label of a request no provider served
MAX_MODELS = 1000  # a backstop on distinct model labels, should `known_models` be absent
STATUS_CLASS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
BREAKER_STATES = ("closed", "half-open", "open", "disabled")
# our codes for an attempt that got no HTTP answer (an upstream's own codes are not labels)
TRANSPORT_RESULTS = frozenset({"upstream_connection_error", "upstream_timeout", "upstream_bad_response"})

# seconds; LLM answers take from tens of milliseconds to minutes
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# the gateway's own time: tens of microseconds to a few milliseconds
OVERHEAD_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

# name, help, label names — the one list both modes expose
REQUESTS = ("llms_requests", "Client requests, by the alias asked for, the provider that served it (none when "
            "none did), status class and outcome.", ("model", "provider", "status", "outcome"))  # fmt: skip
ATTEMPTS = ("llms_upstream_attempts", "Tries at an upstream provider; result is ok, the HTTP status of an "
            "error answer, or why no answer came (upstream_timeout, upstream_connection_error, "
            "upstream_bad_response).", ("provider", "result"))  # fmt: skip
FAILOVERS = ("llms_failovers", "Moves from one provider to another within a request.", ("model",))
DURATION = ("llms_request_duration_seconds", "Request arrival to the end of its answer.", ("model", "provider"))
TTFT = ("llms_time_to_first_token_seconds", "Streamed requests: arrival to the first content chunk.",
        ("model", "provider"))  # fmt: skip
OVERHEAD = ("llms_gateway_overhead_seconds", "Answered requests: time in the gateway less the upstream "
            "attempts' time (docs/observability.md).", ())  # fmt: skip
TOKENS = ("llms_tokens", "Tokens the upstreams reported, by type (input, output).", ("model", "provider", "type"))
DETAILS = ("llms_token_details", "Of those tokens: cached input and reasoning output (a part of "
           "llms_tokens_total, not in addition to it).", ("model", "provider", "type"))  # fmt: skip
COST = ("llms_cost_usd", "Cost in US dollars from the configured pricing (requests with a known cost).",
        ("model", "provider"))  # fmt: skip
IN_FLIGHT = ("llms_requests_in_flight", "Chat requests being handled now.", ())
STREAMS = ("llms_streams_in_flight", "Streamed answers being forwarded now.", ())
BREAKER = ("llms_breaker_state", "1 for the state each provider's breaker is in.", ("provider", "state"))
QUEUED = ("llms_ledger_queued", "Ledger records waiting in memory to be written.", ())
SPOOLED = ("llms_ledger_spooled", "Ledger records waiting in the local spool file.", ())
LOST = ("llms_ledger_records_not_written", "Ledger records given up on (failed: a write error; dropped: "
        "the queue was full or closed).", ("reason",))  # fmt: skip


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
            self._shared = _Shared()
        else:
            self.registry.register(_Collector(self))
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


def _counter(spec: tuple[str, str, tuple[str, ...]], tallies: Mapping[Any, list[float]]) -> CounterMetricFamily:
    name, doc, labels = spec
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, tally in tallies.items():
        family.add_metric(key if isinstance(key, tuple) else (key,), tally[0])
    return family


def _buckets(bounds: tuple[float, ...], h: list[float]) -> list[tuple[str, float]]:
    out, total = [], 0.0
    for bound, n in zip((*bounds, float("inf")), h[1:], strict=True):
        total += n
        out.append((floatToGoString(bound), total))
    return out


class _Collector:
    """One process: the tallies and gauges as metric families, built at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        yield _counter(REQUESTS, m.requests)
        yield _counter(ATTEMPTS, m.attempts)
        yield _counter(FAILOVERS, m.failovers)
        duration_f = HistogramMetricFamily(DURATION[0], DURATION[1], labels=DURATION[2])
        ttft_f = HistogramMetricFamily(TTFT[0], TTFT[1], labels=TTFT[2])
        tokens_f = CounterMetricFamily(TOKENS[0], TOKENS[1], labels=TOKENS[2])
        details_f = CounterMetricFamily(DETAILS[0], DETAILS[1], labels=DETAILS[2])
        cost_f = CounterMetricFamily(COST[0], COST[1], labels=COST[2])
        for labels, (duration, ttft, tokens, cost) in m.served.items():
            duration_f.add_metric(labels, _buckets(DURATION_BUCKETS, duration), duration[0])
            if sum(ttft[1:]):
                ttft_f.add_metric(labels, _buckets(TTFT_BUCKETS, ttft), ttft[0])
            tokens_f.add_metric((*labels, "input"), tokens[0])
            tokens_f.add_metric((*labels, "output"), tokens[1])
            details_f.add_metric((*labels, "cached"), tokens[2])
            details_f.add_metric((*labels, "reasoning"), tokens[3])
            cost_f.add_metric(labels, cost[0])
        yield from (duration_f, ttft_f, tokens_f, details_f, cost_f)
        overhead = HistogramMetricFamily(OVERHEAD[0], OVERHEAD[1])
        overhead.add_metric((), _buckets(OVERHEAD_BUCKETS, m.overhead), m.overhead[0])
        yield overhead
        yield from _gauge_families(m.gauges())


def _gauge_families(g: Mapping[str, Any]) -> Iterator[Metric]:
    if g["requests"] is not None:
        yield GaugeMetricFamily(IN_FLIGHT[0], IN_FLIGHT[1], value=g["requests"])
    if g["streams"] is not None:
        yield GaugeMetricFamily(STREAMS[0], STREAMS[1], value=g["streams"])
    breaker = GaugeMetricFamily(BREAKER[0], BREAKER[1], labels=BREAKER[2])
    for provider, state in g["breakers"].items():
        for candidate in BREAKER_STATES:
            breaker.add_metric((provider, candidate), 1 if candidate == state else 0)
    yield breaker
    stats: SinkStats | None = g["ledger"]
    if stats is not None:
        yield GaugeMetricFamily(QUEUED[0], QUEUED[1], value=stats.queued)
        yield GaugeMetricFamily(SPOOLED[0], SPOOLED[1], value=stats.spooled)
        lost = CounterMetricFamily(LOST[0], LOST[1], labels=LOST[2])
        lost.add_metric(("failed",), stats.failed)
        lost.add_metric(("dropped",), stats.dropped)
        yield lost


class _Shared:
    """Multiprocess mode: prometheus-client's metrics (values in PROMETHEUS_MULTIPROC_DIR),
    given what each tally grew by since the last `publish`."""

    def __init__(self) -> None:
        def counter(spec: tuple[str, str, tuple[str, ...]]) -> Counter:
            return Counter(spec[0], spec[1], spec[2], registry=None)

        def gauge(spec: tuple[str, str, tuple[str, ...]], mode: Any = "livesum") -> Gauge:
            return Gauge(spec[0], spec[1], spec[2], registry=None, multiprocess_mode=mode)

        self.requests, self.attempts, self.failovers = counter(REQUESTS), counter(ATTEMPTS), counter(FAILOVERS)
        self.duration = Histogram(*DURATION, buckets=DURATION_BUCKETS, registry=None)
        self.ttft = Histogram(*TTFT, buckets=TTFT_BUCKETS, registry=None)
        self.overhead = Histogram(*OVERHEAD, buckets=OVERHEAD_BUCKETS, registry=None)
        self.tokens, self.details, self.cost = counter(TOKENS), counter(DETAILS), counter(COST)
        self.in_flight, self.streams, self.queued, self.spooled = gauge(IN_FLIGHT), gauge(STREAMS), gauge(
            QUEUED), gauge(SPOOLED)  # fmt: skip
        self.breaker = gauge(BREAKER, "liveall")
        self.lost = counter(LOST)
        self.seen: dict[Any, list[float]] = {}  # (tally id) -> the values last published

    def _grown(self, key: Any, now: list[float]) -> list[float]:
        before = self.seen.get(key)
        if before is None:
            before = [0.0] * len(now)
        self.seen[key] = list(now)
        return [a - b for a, b in zip(now, before, strict=True)]

    def _count(self, metric: Counter, name: str, tallies: Mapping[Any, list[float]]) -> None:
        for key, tally in tallies.items():
            (d,) = self._grown((name, key), tally)
            if d:
                metric.labels(*(key if isinstance(key, tuple) else (key,))).inc(d)

    def _histogram(self, child: Any, key: Any, h: list[float]) -> None:
        d = self._grown(key, h)
        if any(d[1:]):
            child._sum.inc(d[0])  # (prometheus-client's own parts: there is no public add-n)
            for bucket, n in zip(child._buckets, d[1:], strict=True):
                if n:
                    bucket.inc(n)

    def publish(self, m: Metrics) -> None:
        self._count(self.requests, "requests", m.requests)
        self._count(self.attempts, "attempts", m.attempts)
        self._count(self.failovers, "failovers", m.failovers)
        for labels, (duration, ttft, tokens, cost) in list(m.served.items()):
            self._histogram(self.duration.labels(*labels), ("duration", labels), duration)
            self._histogram(self.ttft.labels(*labels), ("ttft", labels), ttft)
            d = self._grown(("tokens", labels), tokens)
            for kind, n in zip(("input", "output"), d[:2], strict=True):
                if n:
                    self.tokens.labels(*labels, kind).inc(n)
            for kind, n in zip(("cached", "reasoning"), d[2:], strict=True):
                if n:
                    self.details.labels(*labels, kind).inc(n)
            (c,) = self._grown(("cost", labels), cost)
            if c:
                self.cost.labels(*labels).inc(c)
        self._histogram(self.overhead, "overhead", m.overhead)
        g = m.gauges()
        if g["requests"] is not None:
            self.in_flight.set(g["requests"])
        if g["streams"] is not None:
            self.streams.set(g["streams"])
        for provider, state in g["breakers"].items():
            for candidate in BREAKER_STATES:
                self.breaker.labels(provider, candidate).set(1 if candidate == state else 0)
        stats: SinkStats | None = g["ledger"]
        if stats is not None:
            self.queued.set(stats.queued)
            self.spooled.set(stats.spooled)
            for reason, total in (("failed", stats.failed), ("dropped", stats.dropped)):
                (grown,) = self._grown(("lost", reason), [float(total)])
                if grown > 0:
                    self.lost.labels(reason).inc(grown)
