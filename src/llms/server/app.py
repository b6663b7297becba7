"""The HTTP application: routes, the error envelope, the verbose access line. Everything it
serves comes from the router and the plain settings `llms.app` hands it."""

from __future__ import annotations

import asyncio
import html
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ..core.errors import GatewayError, NotFound
from ..core.types import Attempt
from ..router import Router
from .chat import ChatHandler, new_request_id
from .errors import error_middleware
from .health import Readiness, add_health_routes
from .ui import UiAssets

access_log = logging.getLogger("llms.access")


@dataclass(slots=True)
class ServerSettings:
    max_size: int = 20 * 1024 * 1024
    default_model: str | None = None
    version: str = ""
    providers: list[dict[str, Any]] = field(default_factory=list)  # for /status: name, type, state, models
    verbose: bool = False
    keepalive: float = 15.0  # SSE comment frame after this many seconds of silence (0: never)
    write_timeout: float = 60.0  # a streaming client that reads nothing for this long is cut off


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


class Routes:
    def __init__(self, router: Router, settings: ServerSettings) -> None:
        self.router = router
        self.settings = settings
        self.created = int(time.time())
        self.ui = UiAssets()

    def _model(self, alias: str, provider_name: str) -> dict[str, Any]:
        return {"id": alias, "object": "model", "created": self.created, "owned_by": provider_name}

    async def models(self, request: web.Request) -> web.Response:
        data = [self._model(alias, p.name) for alias, p in self.router.models()]
        return json_response({"object": "list", "data": data})

    async def model(self, request: web.Request) -> web.Response:
        alias = request.match_info["model"]
        providers = self.router.candidates.get(alias)
        if not providers:
            raise NotFound(f"The model '{alias}' does not exist", code="model_not_found", param="model")
        return json_response(self._model(alias, providers[0].name))

    async def llms_models(self, request: web.Request) -> web.Response:
        """llms.py's `GET /models`: every alias with the provider that serves it first."""
        data = [
            {"id": alias, "provider": p.name, "provider_model": p.provider_model(alias), "pricing": p.price(alias)}
            for alias, p in self.router.models()
        ]
        return json_response(data)

    async def status(self, request: web.Request) -> web.Response:
        health = self.router.health()  # requests in flight, breaker states
        live = {p.name: {**p.info(), **health.get(p.name, {})} for p in self.router.providers}
        return json_response(
            {
                "status": "ok",
                "version": self.settings.version,
                "providers": [{**entry, **live.get(entry["name"], {})} for entry in self.settings.providers],
                "models": len(self.router.candidates),
                "default_model": self.settings.default_model,
                "runtime": runtime_info(),
                "pid": os.getpid(),  # which process answered: with `--workers N` each is one
            }
        )

    async def index(self, request: web.Request) -> web.StreamResponse:
        if self.ui.has_index:
            return await self.ui.index(request)
        return web.Response(text=self._fallback_page(request), content_type="text/html")

    def _fallback_page(self, request: web.Request) -> str:
        api = f"{request.scheme}://{request.host}/v1"
        rows = "".join(
            f"<li><code>{html.escape(alias)}</code> — {html.escape(p.name)}</li>" for alias, p in self.router.models()
        )
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>llms</title></head><body>"
            f"<h1>llms</h1><p>OpenAI-compatible API: <code>{html.escape(api)}</code></p>"
            f"<h2>Models</h2><ul>{rows or '<li>No provider is enabled.</li>'}</ul></body></html>"
        )


def runtime_info() -> dict[str, Any]:
    """Live tasks, open file descriptors and resident memory: what a leak would grow."""
    info: dict[str, Any] = {"tasks": len(asyncio.all_tasks())}
    try:
        info["open_fds"] = len(os.listdir("/proc/self/fd"))
        with open("/proc/self/statm") as f:
            info["rss_mb"] = round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except OSError:  # not Linux
        pass
    return info


@web.middleware
async def access_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """`--verbose`: one line per request. Keys and auth headers are never logged."""
    rid = new_request_id()
    start = time.perf_counter()
    response = None
    try:
        response = await handler(request)
        response.headers["x-request-id"] = rid
        return response
    finally:
        attempt: Attempt | None = request.get("llms.attempt")
        if attempt is not None:
            _log_chat(rid, request, attempt, response, start)


def _log_chat(rid: str, request: web.Request, attempt: Attempt, response: Any, start: float) -> None:
    error = request.get("llms.error")
    status = response.status if response is not None else 499
    if isinstance(error, GatewayError) and response is not None and response.status == 200:
        status_text = f"200+error({error.status})"
    else:
        status_text = str(status)
    ttft = f"{(attempt.first_chunk_at - attempt.started) * 1000:.1f}ms" if attempt.first_chunk_at else "-"
    usage = request.get("llms.usage") or {}
    access_log.info(
        "%s model=%s tried=%s provider=%s status=%s latency=%.1fms ttft=%s tokens=%s/%s%s",
        rid,
        attempt.model or "-",
        ",".join(attempt.tried) or "-",
        attempt.provider if status < 400 else "-",
        status_text,
        (time.perf_counter() - start) * 1000,
        ttft,
        usage.get("prompt_tokens", "-"),
        usage.get("completion_tokens", "-"),
        f" error={error.message if isinstance(error, GatewayError) else error!s}" if error else "",
    )


def make_app(router: Router, settings: ServerSettings, readiness: Readiness | None = None) -> web.Application:
    middlewares = [error_middleware]
    if settings.verbose:
        middlewares.insert(0, access_middleware)
    # client_max_size + 1 MiB: our own check answers 413 in the envelope; aiohttp's is a backstop.
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_size + 1024 * 1024)
    routes = Routes(router, settings)
    chat = ChatHandler(router, settings.max_size, settings.keepalive, settings.write_timeout)
    # The bound coroutine method, not the instance: aiohttp wraps a callable object that is not
    # a coroutine function in one more coroutine per request (~1.2 % of a request's instructions).
    app.router.add_post("/v1/chat/completions", chat.__call__)
    app.router.add_post("/chat/completions", chat.__call__)
    app.router.add_get("/v1/models", routes.models)
    app.router.add_get("/v1/models/{model:.+}", routes.model)
    app.router.add_get("/models", routes.llms_models)
    app.router.add_get("/status", routes.status)
    readiness = readiness or Readiness(lambda: len(router.providers))
    add_health_routes(app, readiness, lambda: len(router.candidates))
    app.router.add_get("/", routes.index)
    app.router.add_get("/ui/{path:.+}", routes.ui.asset)
    app["llms.router"] = router
    app["llms.chat"] = chat  # the composition root ends chat requests at the shutdown deadline
    return app
