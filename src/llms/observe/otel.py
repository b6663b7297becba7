"""OpenTelemetry traces (imported only when tracing is on; see `tracing.py`).

One SERVER span per client request, continuing the client's W3C `traceparent` when it sent
one, and one CLIENT span per upstream attempt beneath it, whose context travels upstream as
that attempt's `traceparent`. Attributes follow the OpenTelemetry GenAI semantic conventions
(`gen_ai.operation.name`, `gen_ai.provider.name` — and the older `gen_ai.system` —,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens`,
`gen_ai.usage.output_tokens`, sampling parameters) plus `http.*`, `error.type` and the
gateway's `llms.request_id` / `llms.outcome`. Never message content.

Spans go out through a batching processor on its own thread (OTLP/HTTP protobuf); the
tracer provider is this service's own, never the process-global one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ..core.outbound import Outbound
from ..usage import UsageRecord

# request parameters copied onto the request span, as the GenAI conventions name them
SAMPLING = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}
_PROPAGATOR = TraceContextTextMapPropagator()


class Tracing:
    """The tracing service: `begin` when a request's model is known, `finish` with its record."""

    def __init__(self, endpoint: str | None, *, exporter: SpanExporter | None = None, version: str = "") -> None:
        resource = Resource.create({"service.name": "llms", "service.version": version})
        self.provider = TracerProvider(resource=resource)
        if exporter is None:
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        else:  # a test's exporter: every span at once
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("llms", version)
        self.endpoint = endpoint
        self._open: dict[str, RequestTrace] = {}

    def begin(
        self,
        request_id: str,
        client_headers: Mapping[str, str],
        record: Any,
        body: Mapping[str, Any] | None = None,
        operation: str = "chat",
    ) -> RequestTrace:
        """Open the request's span (a child of the client's `traceparent`, if any) from the
        moment it arrived (`record.created`); the returned `Outbound` opens the attempts'."""
        parent = _PROPAGATOR.extract(client_headers)
        model = getattr(record, "model", "") or ""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": model,
            "llms.request_id": request_id,
            "llms.stream": bool(getattr(record, "stream", False)),
        }
        if body:
            for key, name in SAMPLING.items():
                value = body.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    attributes[name] = value
        created = getattr(record, "created", None)
        span = self.tracer.start_span(
            f"{operation} {model}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=int(created * 1e9) if created else None,
        )
        trace = RequestTrace(request_id, self, span, record, operation)
        self._open[request_id] = trace
        return trace

    def finish(self, r: UsageRecord) -> None:
        """Close the span of the request `r` records (if it was traced)."""
        trace = self._open.pop(r.id, None)
        if trace is not None:
            trace.end(r)

    def shutdown(self) -> None:
        """Send what is still buffered, then stop the exporter (at process exit)."""
        for trace in list(self._open.values()):
            trace.span.end()
        self._open.clear()
        self.provider.shutdown()


class RequestTrace(Outbound):
    """A request's span, and the `Outbound` that gives each upstream attempt a child span and
    that span's `traceparent` (besides the request id)."""

    __slots__ = ("tracing", "span", "context", "record", "operation")

    def __init__(self, request_id: str, tracing: Tracing, span: Span, record: Any, operation: str) -> None:
        super().__init__(request_id)
        self.tracing = tracing
        self.span = span
        self.context: Context = set_span_in_context(span)
        self.record = record
        self.operation = operation

    def attempt(self, provider: str) -> tuple[dict[str, str], AttemptSpan]:
        # the router notes the provider and its model on the record before it calls the provider
        model = getattr(self.record, "provider_model", "") or ""
        span = self.tracing.tracer.start_span(
            f"{self.operation} {model}",
            context=self.context,
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": self.operation,
                "gen_ai.provider.name": provider,
                "gen_ai.system": provider,
                "gen_ai.request.model": model,
                "llms.request_id": self.request_id,
            },
        )
        headers = dict(self.headers)
        _PROPAGATOR.inject(headers, context=set_span_in_context(span))
        return headers, AttemptSpan(span)

    def end(self, r: UsageRecord) -> None:
        span = self.span
        attributes: dict[str, Any] = {"http.response.status_code": r.status, "llms.outcome": r.outcome}
        if r.provider:
            attributes["gen_ai.provider.name"] = r.provider
        if r.provider_model and r.status < 400:
            attributes["gen_ai.response.model"] = r.provider_model
        if r.prompt_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = r.prompt_tokens
        if r.completion_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = r.completion_tokens
        if r.cost is not None:
            attributes["llms.cost_usd"] = r.cost
        if r.attempts:
            attributes["llms.attempts"] = len(r.attempts)
        span.set_attributes(attributes)
        if r.outcome != "ok":
            span.set_attribute("error.type", r.outcome)
            span.set_status(Status(StatusCode.ERROR, r.outcome))
        end = None
        if r.duration_ms is not None and r.created:
            end = int((r.created + r.duration_ms / 1000.0) * 1e9)
        span.end(end_time=end)


class AttemptSpan:
    """Ends one attempt's span with how the upstream request went."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span

    def end(self, status: int | None, error: BaseException | None) -> None:
        span = self.span
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error is not None or (status is not None and status >= 400):
            kind = getattr(error, "code", None) or (type(error).__name__ if error is not None else str(status))
            span.set_attribute("error.type", str(kind))
            span.set_status(Status(StatusCode.ERROR, str(kind)))
        span.end()
