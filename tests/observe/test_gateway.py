"""Observability through the real gateway (`llms --serve` subprocess, fake upstream):
/metrics after a known mix of requests counts exactly; request ids accepted, returned, sent
upstream; `x-llms-overhead-ms` on non-streamed answers; a reload resets no counter; traces
of a failed-over stream reach a real OTLP/HTTP receiver; with tracing off no OpenTelemetry
module is ever imported; `--log-format json` lines all parse and hold no key."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .. import fake_upstream as fu
from ..conftest import two_provider_config
from ..gateway_proc import GatewayProcess
from ..test_failover import MSG, post, sse_events
from .otlp_receiver import OtlpReceiver

ENV = {"LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret", "LLMS_TEST_UNSET_KEY": "", "LLMS_DATABASE_URL": ""}
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
SERVER, CLIENT, ERROR = 2, 3, 2


def metrics(gw: GatewayProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(gw.url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_total(found: dict) -> float:
    return sum(v for (name, _), v in found.items() if name == "llms_requests_total")


@pytest.fixture(scope="module")
def gateway(upstream: fu.FakeUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(two_provider_config(upstream), env={**ENV, "PYTHONPROFILEIMPORTTIME": "1"}).start()
    yield gw
    gw.stop()


def test_metrics_count_a_known_mix_exactly(gateway: GatewayProcess, upstream: fu.FakeUpstream) -> None:
    before = metrics(gateway)
    assert requests_total(before) == 0
    # served
    upstream.on("primary", "p-chat", fu.reply("one two three"))
    assert post(gateway, {"model": "chat", "messages": MSG}).status_code == 200
    # failed over
    upstream.on("primary", "shared", fu.error(500))
    upstream.on("secondary", "shared", fu.reply("from secondary"))
    r = post(gateway, {"model": "shared", "messages": MSG})
    assert r.status_code == 200 and r.headers["x-llms-provider"] == "secondary"
    # client errors: a bad body, and a made-up model (its name must not become a label)
    assert post(gateway, {"model": "chat"}).status_code == 400
    assert post(gateway, {"model": "no-such-model-xyz", "messages": MSG}).status_code == 404
    # streamed
    upstream.on("primary", "p-chat", fu.stream(["a", "b", "c"]))
    r = post(gateway, {"model": "chat", "messages": MSG, "stream": True})
    assert sse_events(r.text)[-1] == "[DONE]"
    # cancelled: the client leaves mid-stream
    upstream.on("primary", "p-chat", fu.stream(["x"] * 200, delay=0.05))
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", timeout=20,
                      json={"model": "chat", "messages": MSG, "stream": True}) as s:  # fmt: skip
        for line in s.iter_lines():
            if '"content":"x"' in line:
                break
    end = time.monotonic() + 10
    while requests_total(m := metrics(gateway)) < 6 and time.monotonic() < end:
        time.sleep(0.05)
    assert requests_total(m) == 6
    req = "llms_requests_total"
    assert value(m, req, model="chat", provider="primary", status="2xx", outcome="ok") == 2  # served + streamed
    assert value(m, req, model="shared", provider="secondary", status="2xx", outcome="ok") == 1
    # (a body refused before its model is read has no model yet: `other` too)
    assert value(m, req, model="other", provider="none", status="4xx", outcome="client_error") == 2
    assert value(m, req, model="chat", provider="primary", status="2xx", outcome="cancelled") == 1
    assert value(m, "llms_upstream_attempts_total", provider="primary", result="ok") == 3
    assert value(m, "llms_upstream_attempts_total", provider="primary", result="500") == 1
    assert value(m, "llms_upstream_attempts_total", provider="secondary", result="ok") == 1
    assert value(m, "llms_failovers_total", model="shared") == 1
    # tokens: the fake counts 5 prompt tokens per request, one completion token per word/piece
    assert value(m, "llms_tokens_total", model="chat", provider="primary", type="input") == 10
    assert value(m, "llms_tokens_total", model="chat", provider="primary", type="output") == 3 + 3
    assert value(m, "llms_cost_usd_total", model="chat", provider="primary") == pytest.approx(
        10 * 0.000001 + 6 * 0.000002
    )
    # served, streamed, and the stream its client left (it had been served up to then)
    assert value(m, "llms_request_duration_seconds_count", model="chat", provider="primary") == 3
    assert value(m, "llms_time_to_first_token_seconds_count", model="chat", provider="primary") == 2
    assert value(m, "llms_gateway_overhead_seconds_count") == 4  # the answered ones: 2 plain, 2 streams
    assert value(m, "llms_requests_in_flight") == 0 and value(m, "llms_streams_in_flight") == 0
    assert value(m, "llms_ledger_records_not_written_total", reason="dropped") == 0
    assert all(dict(k[1]).get("model") != "no-such-model-xyz" for k in m)


def test_a_reload_resets_no_counter(gateway: GatewayProcess, upstream: fu.FakeUpstream) -> None:
    upstream.on("primary", "p-chat", fu.reply("hi"))
    post(gateway, {"model": "chat", "messages": MSG})
    before = requests_total(metrics(gateway))
    assert gateway.proc is not None
    gateway.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + 10
    while "config reloaded" not in gateway.output() and time.monotonic() < end:
        time.sleep(0.05)
    assert "config reloaded" in gateway.output()
    assert requests_total(metrics(gateway)) == before


def test_request_ids_and_the_overhead_header(gateway: GatewayProcess, upstream: fu.FakeUpstream) -> None:
    upstream.on("primary", "p-chat", fu.reply("hi"))
    r = post(gateway, {"model": "chat", "messages": MSG}, headers={"x-request-id": "client-7f3a:1"})
    assert r.headers["x-request-id"] == "client-7f3a:1"
    sent = {k.lower(): v for k, v in upstream.received("primary")[-1].headers.items()}
    assert sent["x-client-request-id"] == "client-7f3a:1"
    overhead = float(r.headers["x-llms-overhead-ms"])
    assert 0 <= overhead < float(r.json()["metadata"]["duration"]) + 1
    bad = post(gateway, {"model": "chat", "messages": MSG}, headers={"x-request-id": "x" * 200})
    assert bad.headers["x-request-id"].startswith("req_")
    assert {k.lower(): v for k, v in upstream.received("primary")[-1].headers.items()}["x-client-request-id"] == (
        bad.headers["x-request-id"]
    )
    upstream.on("primary", "p-chat", fu.stream(["a"]))
    s = post(gateway, {"model": "chat", "messages": MSG, "stream": True}, headers={"x-request-id": "s-1"})
    assert s.headers["x-request-id"] == "s-1" and "x-llms-overhead-ms" not in s.headers
    e = post(gateway, {"model": "chat"}, headers={"x-request-id": "e-1"})
    assert e.status_code == 400 and e.headers["x-request-id"] == "e-1"
    assert float(e.headers["x-llms-overhead-ms"]) >= 0  # an error is a non-streamed answer too
    upstream.on("primary", "shared", fu.error(500))
    upstream.on("secondary", "shared", fu.error(503))
    failed = post(gateway, {"model": "shared", "messages": MSG})
    assert failed.status_code == 502 and float(failed.headers["x-llms-overhead-ms"]) >= 0


def test_tracing_off_never_imports_opentelemetry(gateway: GatewayProcess) -> None:
    # PYTHONPROFILEIMPORTTIME makes the gateway report every module it imports, also late ones
    assert "| llms.app" in gateway.output()  # (the report is there at all)
    assert "opentelemetry" not in gateway.output()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    yield r
    r.stop()


def test_a_failed_over_stream_is_traced(upstream: fu.FakeUpstream, receiver: OtlpReceiver) -> None:
    config: dict[str, Any] = {**two_provider_config(upstream), "telemetry": {"otlp_endpoint": receiver.url}}
    gw = GatewayProcess(config, env={**ENV, "OTEL_BSP_SCHEDULE_DELAY": "50"}).start()
    try:
        upstream.on("primary", "p-chat", fu.error(503))
        upstream.on("secondary", "s-chat", fu.stream(["a", "b"]))
        headers = {"traceparent": f"00-{CLIENT_TRACE}-b7ad6b7169203331-01", "x-request-id": "traced-1"}
        r = post(gw, {"model": "chat", "messages": MSG, "stream": True}, headers=headers)
        assert sse_events(r.text)[-1] == "[DONE]"
        spans = receiver.wait_for(3)
    finally:
        gw.stop()
    assert len(spans) == 3, spans
    (root,) = [s for s in spans if s["kind"] == SERVER]
    tries = sorted((s for s in spans if s["kind"] == CLIENT), key=lambda s: s["start"])
    assert root["trace_id"] == CLIENT_TRACE and root["parent_span_id"] == "b7ad6b7169203331"
    a = root["attributes"]
    assert (a["gen_ai.operation.name"], a["gen_ai.request.model"], a["gen_ai.response.model"]) == (
        "chat",
        "chat",
        "s-chat",
    )
    assert (a["gen_ai.provider.name"], a["llms.request_id"], a["llms.stream"]) == ("secondary", "traced-1", True)
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (5, 2)  # usage always asked for
    assert a["http.response.status_code"] == 200 and a["llms.outcome"] == "ok" and a["llms.attempts"] == 2
    assert [(t["attributes"]["gen_ai.provider.name"], t["attributes"]["gen_ai.request.model"]) for t in tries] == [
        ("primary", "p-chat"), ("secondary", "s-chat"),
    ]  # fmt: skip
    assert all(t["parent_span_id"] == root["span_id"] and t["trace_id"] == CLIENT_TRACE for t in tries)
    assert tries[0]["status"] == ERROR and tries[0]["attributes"]["http.response.status_code"] == 503
    assert tries[1]["status"] != ERROR
    assert root["start"] <= tries[0]["start"] and tries[1]["end"] <= root["end"] + 5_000_000
    sent = {c.provider: {k.lower(): v for k, v in c.headers.items()} for c in upstream.received()}
    for t in tries:
        got = sent[t["attributes"]["gen_ai.provider.name"]]
        assert got["traceparent"] == f"00-{CLIENT_TRACE}-{t['span_id']}-01"
        assert got["x-client-request-id"] == "traced-1"
    assert "hi" not in json.dumps([s["attributes"] for s in spans])  # never content


def test_json_logs_parse_line_by_line_and_hold_no_key(upstream: fu.FakeUpstream) -> None:
    gw = GatewayProcess(two_provider_config(upstream), env=ENV, args=["--verbose", "--log-format", "json"]).start()
    try:
        upstream.on("primary", "p-chat", fu.echo_credentials(401))  # an upstream that prints the key it got
        upstream.on("secondary", "s-chat", fu.reply("ok"))
        r = post(gw, {"model": "chat", "messages": MSG}, headers={"x-request-id": "json-1"})
        assert r.status_code == 200
        post(gw, {"model": "chat", "messages": MSG, "stream": "yes"}, headers={"x-request-id": "json-2"})
        post(gw, {"model": "x\n2026-01-01 00:00:00,000 ERROR forged", "messages": MSG})
        end = time.monotonic() + 10
        while gw.output().count('"logger":"llms.access"') < 3 and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        gw.stop()
    lines = gw.output().splitlines()
    objs = [json.loads(line) for line in lines]  # every line, the banner's too
    assert all({"time", "level", "logger", "message"} <= set(o) for o in objs)
    access = [o for o in objs if o["logger"] == "llms.access"]
    assert len(access) == 3
    first = next(o for o in access if o["request_id"] == "json-1")
    assert (first["model"], first["provider"], first["status"], first["tried"]) == ("chat", "secondary", 200, [
        "primary", "secondary"])  # fmt: skip
    assert isinstance(first["latency_ms"], float) and first["outcome"] == "ok"
    assert next(o for o in access if o["request_id"] == "json-2")["status"] == 400
    text = gw.output()
    assert "sk-primary-secret" not in text and "sk-secondary-secret" not in text
    assert not any(line.startswith("2026-01-01") for line in lines)


def test_a_retried_request_id_keeps_a_ledger_record_per_try(gateway: GatewayProcess, upstream: fu.FakeUpstream) -> None:
    upstream.on("primary", "p-chat", fu.reply("hi"))
    first = post(gateway, {"model": "chat", "messages": MSG}, headers={"x-request-id": "retried-1"})
    again = post(gateway, {"model": "chat", "messages": MSG}, headers={"x-request-id": "retried-1"})
    assert (first.headers["x-request-id"], again.headers["x-request-id"]) == ("retried-1", "retried-1.2")
    for rid in ("retried-1", "retried-1.2"):
        end = time.monotonic() + 10
        while (r := httpx.get(f"{gateway.url}/usage/requests/{rid}", timeout=5)).status_code == 404:
            assert time.monotonic() < end, f"record {rid} never stored"
            time.sleep(0.05)
        assert r.json()["id"] == rid


def test_in_flight_gauges_while_a_stream_runs(gateway: GatewayProcess, upstream: fu.FakeUpstream) -> None:
    upstream.on("primary", "p-chat", fu.stream(["x"] * 100, delay=0.05))
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", timeout=20,
                      json={"model": "chat", "messages": MSG, "stream": True}) as s:  # fmt: skip
        lines = s.iter_lines()  # (held: a dropped iterator closes the response)
        for line in lines:
            if '"content":"x"' in line:
                break
        during = metrics(gateway)
    assert value(during, "llms_requests_in_flight") == 1 and value(during, "llms_streams_in_flight") == 1, {
        k: v for k, v in during.items() if "flight" in k[0]
    }
    end = time.monotonic() + 10
    while value(after := metrics(gateway), "llms_requests_in_flight") and time.monotonic() < end:
        time.sleep(0.05)
    assert value(after, "llms_requests_in_flight") == 0 and value(after, "llms_streams_in_flight") == 0


def test_metrics_off(upstream: fu.FakeUpstream) -> None:
    gw = GatewayProcess({**two_provider_config(upstream), "telemetry": {"metrics": False}}, env=ENV).start()
    try:
        assert httpx.get(gw.url + "/metrics", timeout=5).status_code == 404
    finally:
        gw.stop()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", {"model": "chat", "max_tokens": 16, "messages": MSG}),
        ("/v1/responses", {"model": "chat", "input": "hi"}),
    ],
)
def test_every_api_answers_with_the_id_and_the_overhead(
    gateway: GatewayProcess, upstream: fu.FakeUpstream, path: str, body: dict[str, Any]
) -> None:
    upstream.on("primary", "p-chat", fu.reply("hi"))
    r = httpx.post(gateway.url + path, json=body, headers={"x-request-id": f"api{path.replace('/', '-')}"}, timeout=20)
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == f"api{path.replace('/', '-')}"
    assert float(r.headers["x-llms-overhead-ms"]) >= 0


def test_metrics_need_the_admin_key_like_the_ledger(upstream: fu.FakeUpstream) -> None:
    config = {**two_provider_config(upstream), "auth": {"admin_key": "$LLMS_TEST_ADMIN"}}
    gw = GatewayProcess(config, env={**ENV, "LLMS_TEST_ADMIN": "admin-secret-123456"}).start()
    try:
        for path in ("/metrics", "/usage/requests"):
            assert httpx.get(gw.url + path, timeout=5).status_code == 401, path
            ok = httpx.get(gw.url + path, headers={"Authorization": "Bearer admin-secret-123456"}, timeout=5)
            assert ok.status_code == 200, path
    finally:
        gw.stop()
