"""The admin API for client keys, the same operations as `llms keys`, behind the admin key:

    POST   /admin/keys            {"name", "models", "rpm", "tpm", "budget", "period", "expires"}
                                  → 201 the key's settings and "key" (the full key, shown once)
    GET    /admin/keys            → {"object": "list", "data": [settings + "spend" this period]}
    PATCH  /admin/keys/{name}     {settings to change, null removing one} → the key's settings
    DELETE /admin/keys/{name}     → the revoked key's settings

`admin` is injected by `app` (`llms.keys.KeyAdmin`); its refusals carry an HTTP `status`."""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web

from ..core.errors import GatewayError, InvalidRequest
from .auth import ClientAuth

FIELDS = ("models", "rpm", "tpm", "budget", "period", "expires")


class Admin(Protocol):
    async def create(self, name: str, **settings: Any) -> dict[str, Any]: ...

    async def list(self) -> list[dict[str, Any]]: ...

    async def update(self, name: str, **settings: Any) -> dict[str, Any]: ...

    async def revoke(self, name: str) -> dict[str, Any]: ...


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})  # fmt: skip


class AdminKeys:
    def __init__(self, admin: Admin, auth: ClientAuth) -> None:
        self.admin = admin
        self.auth = auth

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise InvalidRequest("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("Expected a JSON object.")
        unknown = sorted(set(body) - {"name", *FIELDS})
        if unknown:
            raise InvalidRequest(f"Unknown field {unknown[0]!r}.", param=unknown[0])
        return body

    async def _run(self, op: Any, *args: Any, **kw: Any) -> Any:
        try:
            return await op(*args, **kw)
        except Exception as e:
            status = getattr(e, "status", None)
            if isinstance(status, int):  # the store's refusals: 400 bad value, 404, 409 exists
                code = {404: "key_not_found", 409: "key_exists"}.get(status, "invalid_value")
                raise GatewayError(str(e), status=status, type="invalid_request_error", code=code) from None
            raise

    async def create(self, request: web.Request) -> web.Response:
        self.auth.require_admin(request)
        body = await self._body(request)
        name = body.pop("name", None)
        if not isinstance(name, str):
            raise InvalidRequest("`name` is required.", param="name")
        return _json(await self._run(self.admin.create, name, **body), status=201)

    async def list(self, request: web.Request) -> web.Response:
        self.auth.require_admin(request)
        return _json({"object": "list", "data": await self._run(self.admin.list)})

    async def update(self, request: web.Request) -> web.Response:
        self.auth.require_admin(request)
        body = await self._body(request)
        body.pop("name", None)
        return _json(await self._run(self.admin.update, request.match_info["name"], **body))

    async def revoke(self, request: web.Request) -> web.Response:
        self.auth.require_admin(request)
        return _json(await self._run(self.admin.revoke, request.match_info["name"]))


ADMIN_PATHS = ("/admin/", "/usage/", "/metrics")  # /metrics: the same rule as the ledger (issue 13)


def admin_only(auth: ClientAuth) -> Any:
    """Middleware (installed only while keys or an admin key are configured): `/admin/*` and
    the ledger's `/usage/*` and `/metrics` need the admin key."""

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PATHS):
            auth.require_admin(request)
        return await handler(request)

    return guard


def add_admin_routes(app: web.Application, admin: Admin, auth: ClientAuth) -> None:
    handlers = AdminKeys(admin, auth)
    app.router.add_post("/admin/keys", handlers.create)
    app.router.add_get("/admin/keys", handlers.list)
    app.router.add_patch("/admin/keys/{name}", handlers.update)
    app.router.add_delete("/admin/keys/{name}", handlers.revoke)
