"""Observability services, built once by `llms.app` and fed by the finished request record:
Prometheus metrics (`metrics.py`), optional OpenTelemetry traces (`tracing.py`; the
OpenTelemetry packages are imported only when tracing is configured) and the log formats
(`logs.py`). Imports `core` and `usage` only; imported only by `app`."""
