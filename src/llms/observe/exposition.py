"""How the metrics are exposed (see `metrics.py`): their names, help texts and labels — the
one list both modes use —, the collector that turns one process's tallies into metric
families at scrape time, and, in multiprocess mode, the prometheus-client metrics each
process publishes its growth to (their values live in files in PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from ..usage import SinkStats

if TYPE_CHECKING:
    from .metrics import Metrics

BREAKER_STATES = ("closed", "half-open", "open", "disabled")
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


class Collector:
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


class Shared:
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
