"""The HTTP application: routes and the error envelope. Everything it serves comes from the
router, the runtime in force and the services `llms.app` hands it (typed `web.AppKey`s)."""

from __future__ import annotations

import asyncio
import html
import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..core.errors import NotFound
from ..router import Router
from .admin_keys import add_admin_routes, admin_only
from .anthropic_messages import CountTokens
from .chat import ChatHandler
from .errors import make_error_middleware
from .guards import EdgePolicy
from .health import add_health_routes
from .metrics_api import add_metrics_route
from .runtime import CURRENT, Current, Services
from .ui import CSP, UiAssets


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What stays fixed while the process runs (the per-config part is `Runtime`)."""

    version: str = ""
    verbose: bool = False
    bind_host: str = "127.0.0.1"  # the Host policy is stricter on a loopback bind


ROUTER = web.AppKey("router", Router)
CHAT = web.AppKey("chat", ChatHandler)  # the composition root ends chat requests at the shutdown deadline
SERVICES = web.AppKey("services", Services)
EDGE = web.AppKey("edge", EdgePolicy)  # the composition root reconfigures it on reload


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


class Routes:
    def __init__(self, router: Router, settings: ServerSettings, current: Current, services: Services) -> None:
        self.router = router
        self.settings = settings
        self.current = current
        self.services = services
        self.created = int(time.time())
        self.ui = UiAssets()

    def _model(self, alias: str, provider: Any) -> dict[str, Any]:
        model = {"id": alias, "object": "model", "created": self.created, "owned_by": provider.name}
        if provider.is_embedding_model(alias):
            model["type"] = "embedding"  # (POST /v1/embeddings; every other model is a chat model)
        return model

    def _visible(self, request: web.Request) -> Any:
        """The models the caller may see: every one, or those of its key (401 without one
        when keys are required)."""
        gate = self.services.gate
        key = gate.identify(request) if gate is not None else None
        models = self.router.models()
        return models if key is None else [(alias, p) for alias, p in models if key.allows(alias)]

    async def models(self, request: web.Request) -> web.Response:
        data = [self._model(alias, p) for alias, p in self._visible(request)]
        return json_response({"object": "list", "data": data})

    async def model(self, request: web.Request) -> web.Response:
        alias = request.match_info["model"]
        providers = self.router.candidates.get(alias)
        gate = self.services.gate
        key = gate.identify(request) if gate is not None else None
        if not providers or (key is not None and not key.allows(alias)):
            raise NotFound(f"The model '{alias}' does not exist", code="model_not_found", param="model")
        return json_response(self._model(alias, providers[0]))

    async def llms_models(self, request: web.Request) -> web.Response:
        """llms.py's `GET /models`: every alias with the provider that serves it first."""
        data = [
            {"id": alias, "provider": p.name, "provider_model": p.provider_model(alias), "pricing": p.price(alias)}
            for alias, p in self._visible(request)
        ]
        return json_response(data)

    async def status(self, request: web.Request) -> web.Response:
        services, runtime = self.services, self.current.runtime
        if services.gate is not None and not services.gate.auth.is_admin(request):
            # the details (providers, counters, the limiter) are the admin's
            return json_response({"status": "ok", "default_model": runtime.default_model, "auth": "required"
                                  if services.gate.auth.required else "optional"})  # fmt: skip
        health = self.router.health()  # requests in flight, breaker states
        live = {p.name: {**p.info(), **health.get(p.name, {})} for p in self.router.providers}
        stats = services.stats
        keys = services.keys
        return json_response(
            {
                "status": "ok",
                "version": self.settings.version,
                "providers": [{**entry, **live.get(entry["name"], {})} for entry in runtime.providers],
                "models": len(self.router.candidates),
                "default_model": runtime.default_model,
                "runtime": runtime_info(),
                "usage": dict(stats()) if stats is not None else None,
                "keys": dict(keys()) if keys is not None else None,
                "pid": os.getpid(),  # which process answered: with `--workers N` each is one
            }
        )

    async def index(self, request: web.Request) -> web.StreamResponse:
        if self.ui.has_index:
            return await self.ui.index(request)
        return web.Response(
            text=self._fallback_page(request),
            content_type="text/html",
            headers={"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"},
        )

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


def make_app(
    router: Router, settings: ServerSettings, current: Current, services: Services | None = None
) -> web.Application:
    """The HTTP app over one router (whose table reloads swap), the runtime in force and the
    process's services."""
    services = services or Services()
    runtime = current.runtime
    edge = EdgePolicy(runtime.allow_origins, runtime.allowed_hosts, bind_host=settings.bind_host)
    # client_max_size + 1 MiB: our own check answers 413 in the envelope; aiohttp's is a backstop.
    max_size = current.runtime.max_size
    middlewares = [make_error_middleware(edge.check)]
    if services.gate is not None and services.gate.auth.admin_guarded:
        middlewares.append(admin_only(services.gate.auth))
    app = web.Application(middlewares=middlewares, client_max_size=max_size + 1024 * 1024)
    routes = Routes(router, settings, current, services)
    chat = ChatHandler(router, current, services, settings.verbose)
    # The bound coroutine method, not the instance: aiohttp wraps a callable object that is not
    # a coroutine function in one more coroutine per request (~1.2 % of a request's instructions).
    app.router.add_post("/v1/chat/completions", chat.__call__)
    app.router.add_post("/chat/completions", chat.__call__)
    app.router.add_post("/v1/messages", chat.messages)
    app.router.add_post("/v1/messages/count_tokens", CountTokens(router, current, services.gate).__call__)
    app.router.add_post("/v1/responses", chat.responses)
    app.router.add_post("/v1/embeddings", chat.embeddings)
    app.router.add_get("/v1/models", routes.models)
    app.router.add_get("/v1/models/{model:.+}", routes.model)
    app.router.add_get("/models", routes.llms_models)
    app.router.add_get("/status", routes.status)
    services.readiness.enabled = lambda: len(router.providers)  # the router reloads swap tables into
    add_health_routes(app, services.readiness, lambda: len(router.candidates))
    app.router.add_get("/", routes.index)
    app.router.add_get("/ui/{path:.+}", routes.ui.asset)
    if services.metrics is not None:
        add_metrics_route(app, services.metrics, services.metrics_type)
    if services.admin is not None and services.gate is not None:
        add_admin_routes(app, services.admin, services.gate.auth)
    app[ROUTER] = router
    app[CHAT] = chat
    app[CURRENT] = current
    app[SERVICES] = services
    app[EDGE] = edge
    return app
