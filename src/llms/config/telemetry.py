"""The `telemetry` section of `llms.json`: metrics and traces.

    "telemetry": false                      no /metrics, no traces
    "telemetry": {"metrics": true,          GET /metrics in the Prometheus format (the default)
                  "otlp_endpoint": "http://collector:4318"}
                                            OpenTelemetry traces over OTLP/HTTP (also from
                                            $OTEL_EXPORTER_OTLP_ENDPOINT; off by default)

A reload does not change them: like the ledger they live as long as the process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .schema import _Checker

TELEMETRY_KEYS = ("metrics", "otlp_endpoint")


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    metrics: bool = True
    otlp_endpoint: str | None = None
    traces: bool = True  # False: `"telemetry": false` also ignores the OTEL_* environment


def parse_telemetry(c: _Checker, root: dict[str, Any]) -> TelemetrySettings:
    from .schema import _kind

    value = root.get("telemetry", True)
    if value is True:
        return TelemetrySettings()
    if value is False:
        return TelemetrySettings(metrics=False, traces=False)
    obj = c.obj(value, "telemetry")
    for key in obj:
        if key not in TELEMETRY_KEYS:
            raise c.fail(f"telemetry.{key}", f"unknown key (expected one of {', '.join(TELEMETRY_KEYS)})")
    metrics = obj.get("metrics", True)
    if not isinstance(metrics, bool):
        raise c.fail("telemetry.metrics", f"expected true or false, got {_kind(metrics)}")
    endpoint = obj.get("otlp_endpoint")
    if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))):
        raise c.fail(
            "telemetry.otlp_endpoint", "expected an http(s) URL of an OTLP/HTTP collector, e.g. http://localhost:4318"
        )
    return TelemetrySettings(metrics=metrics, otlp_endpoint=endpoint or None)
