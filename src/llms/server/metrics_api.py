"""`GET /metrics`: the Prometheus text format, rendered by the metrics service `llms.app`
hands in (the server knows no metrics library). It sits behind the same guards as every
other route, like `/usage/*`: whoever may read the ledger may scrape the gateway."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

METRICS_PATH = "/metrics"


def add_metrics_route(app: web.Application, render: Callable[[], bytes], content_type: str) -> None:
    """Serve `render()` at /metrics. It runs on the event loop: a scrape every few seconds
    costs well under a millisecond, and the metrics and their sources are loop-thread state."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=render(), headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    app.router.add_get(METRICS_PATH, metrics)
