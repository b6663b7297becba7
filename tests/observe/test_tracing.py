"""Traces on their own, through the real transport and router: a failed-over streamed request
makes a SERVER span continuing the client's `traceparent`, one CLIENT span per attempt with
the GenAI attributes, each attempt's own `traceparent` (and the request id) reaching the fake
upstream; exported over OTLP/HTTP to a real receiver on loopback. With tracing off, nothing
of OpenTelemetry is imported."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llms.app import build, start_providers
from llms.config.schema import parse_config
from llms.core.outbound import Outbound, current_outbound
from llms.observe.tracing import traces_endpoint, tracing_from
from llms.server.call import new_record
from llms.usage import UsageRecord

from .. import fake_upstream as fu
from ..conftest import two_provider_config
from .otlp_receiver import OtlpReceiver

SRC = Path(__file__).resolve().parents[2] / "src"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT = "00f067aa0ba902b7"
SERVER, CLIENT, ERROR = 2, 3, 2


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    yield r
    r.stop()


def test_endpoint_from_config_or_environment() -> None:
    assert traces_endpoint(None, {}) is None
    assert traces_endpoint("http://c:4318", {}) == "http://c:4318/v1/traces"
    assert traces_endpoint("http://c:4318/v1/traces", {}) == "http://c:4318/v1/traces"
    assert traces_endpoint(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318/"}) == "http://e:4318/v1/traces"
    assert traces_endpoint(None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}) == "http://t/x"
    assert tracing_from(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318", "OTEL_SDK_DISABLED": "true"}) is None


def test_tracing_off_imports_no_opentelemetry() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(SRC)!r})\n"
        "import llms.app, llms.observe.metrics, llms.observe.logs\n"
        "from llms.observe.tracing import tracing_from\n"
        "assert tracing_from(None, {}) is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


async def test_failed_over_stream_span_tree(upstream: fu.FakeUpstream, receiver: OtlpReceiver) -> None:
    upstream.on("primary", "p-chat", fu.error(503, "overloaded"))
    upstream.on("secondary", "s-chat", fu.stream(["a", "b"]))
    config = parse_config(two_provider_config(upstream), "test", {"LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret"})
    gateway = build(config)
    await start_providers(gateway)
    tracing = tracing_from(receiver.url, {}, version="test")
    assert tracing is not None
    try:
        live = new_record("req_trace1")
        live.model, live.stream = "chat", True
        body = {"model": "chat", "stream": True, "temperature": 0.5, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01", "content-type": "application/json"}
        trace = tracing.begin("req_trace1", headers, live, body)
        token = current_outbound.set(trace)
        try:
            stream = await gateway.router.open_stream(body, live, None)
            chunks = [c async for c in stream]
        finally:
            current_outbound.reset(token)
        assert chunks
        record = UsageRecord.start("chat.completions", "chat", True)
        record.id, record.provider, record.provider_model, record.status = "req_trace1", "secondary", "s-chat", 200
        record.prompt_tokens, record.completion_tokens, record.duration_ms = 5, 2, 12.0
        tracing.finish(record)
    finally:
        tracing.shutdown()  # flushes the batch to the receiver
        await gateway.aclose()
    spans = receiver.wait_for(3)
    assert len(spans) == 3, spans
    assert receiver.resources[0]["service.name"] == "llms"
    assert receiver.content_types == ["application/x-protobuf"]
    (root,) = [s for s in spans if s["kind"] == SERVER]
    tries = sorted((s for s in spans if s["kind"] == CLIENT), key=lambda s: s["start"])
    assert root["trace_id"] == CLIENT_TRACE and root["parent_span_id"] == CLIENT_PARENT
    assert root["name"] == "chat chat"
    assert root["attributes"] == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "chat",
        "gen_ai.request.temperature": 0.5,
        "llms.request_id": "req_trace1",
        "llms.stream": True,
        "http.response.status_code": 200,
        "llms.outcome": "ok",
        "gen_ai.provider.name": "secondary",
        "gen_ai.response.model": "s-chat",
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 2,
    }
    assert [t["attributes"]["gen_ai.provider.name"] for t in tries] == ["primary", "secondary"]
    assert [t["attributes"]["gen_ai.request.model"] for t in tries] == ["p-chat", "s-chat"]
    assert [t["name"] for t in tries] == ["chat p-chat", "chat s-chat"]
    assert all(t["trace_id"] == CLIENT_TRACE and t["parent_span_id"] == root["span_id"] for t in tries)
    assert tries[0]["status"] == ERROR and tries[0]["attributes"]["http.response.status_code"] == 503
    assert tries[0]["attributes"]["error.type"]
    assert tries[1]["status"] != ERROR and tries[1]["attributes"]["http.response.status_code"] == 200
    assert "error.type" not in tries[1]["attributes"]
    for s in spans:  # never content
        assert "hi" not in [str(v) for v in s["attributes"].values()]
    # each attempt's traceparent, and the request id, reached the upstream
    seen = {c.provider: {k.lower(): v for k, v in c.headers.items()} for c in upstream.received()}
    for t in tries:
        sent = seen[t["attributes"]["gen_ai.provider.name"]]
        assert sent["traceparent"] == f"00-{CLIENT_TRACE}-{t['span_id']}-01"
        assert sent.get("x-client-request-id") == "req_trace1", sorted(sent)


async def test_request_id_reaches_the_upstream_without_tracing(upstream: fu.FakeUpstream) -> None:
    upstream.on("primary", "p-chat", fu.reply("hello"))
    config = parse_config(two_provider_config(upstream), "test", {"LLMS_TEST_SECONDARY_KEY": "k"})
    gateway = build(config)
    await start_providers(gateway)
    try:
        token = current_outbound.set(Outbound("client-id-42"))
        try:
            record = new_record()
            record.model = "chat"
            await gateway.router.chat({"model": "chat", "messages": [{"role": "user", "content": "x"}]}, record)
        finally:
            current_outbound.reset(token)
    finally:
        await gateway.aclose()
    (call,) = upstream.received("primary")
    sent = {k.lower(): v for k, v in call.headers.items()}
    assert sent["x-client-request-id"] == "client-id-42"
    assert "traceparent" not in sent
