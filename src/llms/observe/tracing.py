"""Whether to trace, decided without importing OpenTelemetry: tracing is on when the config
names an OTLP endpoint (`"telemetry": {"otlp_endpoint": …}`) or the environment does
(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`), and not when
`OTEL_SDK_DISABLED=true`. Only then is `otel.py` — the one module that imports the
OpenTelemetry packages (the `telemetry` extra) — loaded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .otel import Tracing


class TracingUnavailable(Exception):
    """Tracing is configured but the `telemetry` extra is not installed."""


def traces_endpoint(configured: str | None, env: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP traces URL: the config's endpoint (a collector's base URL, like
    OTEL_EXPORTER_OTLP_ENDPOINT, or the full `/v1/traces` URL), else the environment's."""
    if configured:
        base = configured.rstrip("/")
        return base if base.endswith("/v1/traces") else base + "/v1/traces"
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    return None


def tracing_from(
    configured: str | None,
    env: Mapping[str, str] | None = None,
    *,
    version: str = "",
    exporter: Any = None,
) -> Tracing | None:
    """The tracing service, or None when tracing is off. `exporter` (a SpanExporter) replaces
    the OTLP one, for tests that keep spans in memory behind the same path."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    endpoint = traces_endpoint(configured, env)
    if endpoint is None and exporter is None:
        return None
    try:
        from .otel import Tracing
    except ImportError as e:
        raise TracingUnavailable(
            f"tracing needs the OpenTelemetry packages: pip install 'llms-gateway[telemetry]' ({e.name} is missing)"
        ) from None
    return Tracing(endpoint, exporter=exporter, version=version)
