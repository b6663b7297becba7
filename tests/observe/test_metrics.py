"""The metrics service on its own: a known mix of finished records observed, `/metrics`
scraped over a real socket and parsed with prometheus-client's parser — every count exact;
bounded labels; scrape-time gauges; several worker processes merged through
PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from llms.observe.metrics import OTHER, Metrics, Sources
from llms.server.metrics_api import add_metrics_route
from llms.usage import SinkStats, UsageRecord

from ..fake_upstream import LoopbackServer

SRC = Path(__file__).resolve().parents[2] / "src"


def record(model: str = "chat", provider: str | None = "primary", *, status: int = 200, outcome: str = "ok",
           stream: bool = False, attempts: list[dict[str, Any]] | None = None, **kw: Any) -> UsageRecord:  # fmt: skip
    r = UsageRecord.start("chat.completions", model, stream)
    r.provider, r.provider_model, r.status, r.outcome = provider, f"{provider}-model", status, outcome  # type: ignore[assignment]
    r.attempts = attempts if attempts is not None else [
        {"provider": provider or "", "status": status, "error": None, "seconds": 0.2}
    ]  # fmt: skip
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def mix() -> list[UsageRecord]:
    """Served twice, failed over once, one client error, one streamed, one cancelled stream."""
    ok = {"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.001, "duration_ms": 250.0}
    return [
        record(**ok),
        record(**ok),
        record(
            provider="secondary",
            duration_ms=700.0,
            prompt_tokens=10,
            completion_tokens=7,
            attempts=[
                {"provider": "primary", "status": 500, "error": "upstream_error", "seconds": 0.3},
                {"provider": "secondary", "status": 200, "error": None, "seconds": 0.39},
            ],
        ),  # fmt: skip
        record("nonexistent-model", None, status=404, outcome="client_error", attempts=[], duration_ms=0.4),
        record(stream=True, ttft_ms=120.0, duration_ms=900.0, prompt_tokens=3, completion_tokens=4, cached_tokens=2),
        record(stream=True, status=499, outcome="cancelled", ttft_ms=100.0, duration_ms=300.0),
    ]


class MetricsServer(LoopbackServer):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics

    def add_routes(self, app: web.Application) -> None:
        add_metrics_route(app, self.metrics.render, "text/plain; version=0.0.4; charset=utf-8")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = resp.read().decode()
    return samples(text)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def served() -> Any:
    breakers = {"primary": "open", "secondary": "closed"}
    stats = SinkStats(queued=3, written=10, failed=1, dropped=2, spooled=4)
    metrics = Metrics(Sources(
        requests=lambda: 7, streams=lambda: 2, breakers=lambda: breakers, ledger=lambda: stats,
        known_models=lambda: {"chat", "shared"},
    ))  # fmt: skip
    server = MetricsServer(metrics).start()
    yield metrics, f"http://127.0.0.1:{server.port}"
    server.stop()


def test_counts_of_a_known_mix_are_exact(served: Any) -> None:
    metrics, url = served
    for r in mix():
        metrics.observe(r)
    m = scrape(url)
    requests = "llms_requests_total"
    assert value(m, requests, model="chat", provider="primary", status="2xx", outcome="ok") == 3  # 2 + the stream
    assert value(m, requests, model="chat", provider="secondary", status="2xx", outcome="ok") == 1
    assert value(m, requests, model=OTHER, provider="none", status="4xx", outcome="client_error") == 1
    assert value(m, requests, model="chat", provider="primary", status="4xx", outcome="cancelled") == 1
    assert sum(v for (name, _), v in m.items() if name == requests) == 6
    assert value(m, "llms_upstream_attempts_total", provider="primary", result="ok") == 4
    assert value(m, "llms_upstream_attempts_total", provider="primary", result="500") == 1
    assert value(m, "llms_upstream_attempts_total", provider="secondary", result="ok") == 1
    assert value(m, "llms_failovers_total", model="chat") == 1
    assert value(m, "llms_tokens_total", model="chat", provider="primary", type="input") == 23
    assert value(m, "llms_tokens_total", model="chat", provider="primary", type="output") == 14
    assert value(m, "llms_tokens_total", model="chat", provider="secondary", type="output") == 7
    assert value(m, "llms_token_details_total", model="chat", provider="primary", type="cached") == 2
    assert value(m, "llms_cost_usd_total", model="chat", provider="primary") == pytest.approx(0.002)
    duration = "llms_request_duration_seconds"
    assert value(m, duration + "_count", model="chat", provider="primary") == 4
    assert value(m, duration + "_sum", model="chat", provider="primary") == pytest.approx(0.25 + 0.25 + 0.9 + 0.3)
    assert value(m, duration + "_bucket", model="chat", provider="primary", le="0.5") == 3
    ttft = "llms_time_to_first_token_seconds"
    assert value(m, ttft + "_count", model="chat", provider="primary") == 2
    # overhead: answered requests only (3 plain ones, 1 stream), elapsed less the attempts' seconds
    assert value(m, "llms_gateway_overhead_seconds_count") == 4
    expected = (0.25 - 0.2) * 2 + (0.7 - 0.69) + 0.0  # the stream: ttft 0.12 < its 0.2 s attempt -> 0
    assert value(m, "llms_gateway_overhead_seconds_sum") == pytest.approx(expected)
    # gauges read at scrape time
    assert value(m, "llms_requests_in_flight") == 7
    assert value(m, "llms_streams_in_flight") == 2
    assert value(m, "llms_breaker_state", provider="primary", state="open") == 1
    assert value(m, "llms_breaker_state", provider="primary", state="closed") == 0
    assert value(m, "llms_breaker_state", provider="secondary", state="closed") == 1
    assert value(m, "llms_ledger_queued") == 3
    assert value(m, "llms_ledger_spooled") == 4
    assert value(m, "llms_ledger_records_not_written_total", reason="failed") == 1
    assert value(m, "llms_ledger_records_not_written_total", reason="dropped") == 2
    # a second scrape counts nothing twice
    m2 = scrape(url)
    assert value(m2, "llms_ledger_records_not_written_total", reason="dropped") == 2
    assert value(m2, requests, model="chat", provider="primary", status="2xx", outcome="ok") == 3


def test_unknown_model_names_do_not_grow_the_series(served: Any) -> None:
    metrics, url = served
    for i in range(50):
        metrics.observe(record(f"made-up-{i}", None, status=404, outcome="client_error", attempts=[]))
    m = scrape(url)
    labels = {dict(k[1]).get("model") for k in m if k[0] == "llms_requests_total"}
    assert labels == {OTHER}


def test_without_an_allow_list_model_labels_are_capped() -> None:
    metrics = Metrics()
    for i in range(1200):
        metrics.observe(record(f"m{i}", attempts=[]))
    m = samples(metrics.render().decode())
    models = {dict(k[1])["model"] for k in m if k[0] == "llms_requests_total"}
    assert len(models) == 1001 and OTHER in models


WORKER = """
import json, sys
sys.path.insert(0, {src!r})
from llms.observe.metrics import Metrics, Sources
from llms.usage import UsageRecord
metrics = Metrics(Sources(requests=lambda: {inflight}))
for _ in range({n}):
    r = UsageRecord.start("chat.completions", "chat", False)
    r.provider, r.status, r.duration_ms, r.prompt_tokens = "primary", 200, 100.0, 2
    r.attempts = [{{"provider": "primary", "status": 200, "error": None, "seconds": 0.09}}]
    metrics.observe(r)
metrics.publish()
if {render}:
    sys.stdout.write(metrics.render().decode())
"""


def test_worker_processes_are_merged_through_the_multiprocess_dir(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(n: int, inflight: int, render: bool) -> str:
        code = WORKER.format(src=str(SRC), n=n, inflight=inflight, render=render)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker(3, 2, False)
    worker(4, 5, False)
    m = samples(worker(0, 0, True))
    assert value(m, "llms_requests_total", model="chat", provider="primary", status="2xx", outcome="ok") == 7
    assert value(m, "llms_tokens_total", model="chat", provider="primary", type="input") == 14
    assert value(m, "llms_request_duration_seconds_count", model="chat", provider="primary") == 7
    assert json.dumps(sorted(os.listdir(tmp_path)))  # the values live in files there
