"""The admin API (`/admin/keys`) and the auth decisions over a loopback aiohttp app with the
real key store (SQLite): admin key required, the same operations as the CLI, the error
envelope, and `ClientAuth` resolving keys the way the chat path will."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from llms.keys.services import KeyServices, open_keys
from llms.server.admin_keys import add_admin_routes
from llms.server.auth import ClientAuth
from llms.server.errors import error_middleware

ADMIN = "admin-secret-123"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[KeyServices]:
    s = await open_keys(tmp_path / "usage.db", None)
    yield s
    await s.aclose()


async def client_for(services: KeyServices, required: bool, admin_key: str | None) -> TestClient:
    assert services.ring is not None
    auth = ClientAuth(services.ring.find, required, admin_key)
    app = web.Application(middlewares=[error_middleware])
    add_admin_routes(app, services.admin, auth)

    async def whoami(request: web.Request) -> web.Response:
        key = auth.identify(request)
        return web.json_response({"key": None if key is None else key.name})

    app.router.add_get("/whoami", whoami)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_admin_api_round_trip(services: KeyServices):
    client = await client_for(services, required=True, admin_key=ADMIN)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    try:
        r = await client.post("/admin/keys", json={"name": "alice", "models": ["fast"], "rpm": 5})
        assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_api_key"
        r = await client.post("/admin/keys", json={"name": "alice", "models": ["fast"], "rpm": 5}, headers=admin)
        assert r.status == 201
        created = await r.json()
        assert created["key"].startswith("sk-llms-") and created["models"] == ["fast"] and "hash" not in created
        r = await client.post("/admin/keys", json={"name": "alice"}, headers={"x-api-key": ADMIN})
        assert r.status == 409 and (await r.json())["error"]["code"] == "key_exists"
        r = await client.post("/admin/keys", json={"name": "bob", "rpm": -1}, headers=admin)
        assert r.status == 400
        r = await client.post("/admin/keys", json={"name": "bob", "colour": "red"}, headers=admin)
        assert r.status == 400 and (await r.json())["error"]["param"] == "colour"
        r = await client.patch("/admin/keys/alice", json={"rpm": None, "tpm": 100}, headers=admin)
        assert r.status == 200 and (await r.json())["rpm"] is None
        r = await client.get("/admin/keys", headers=admin)
        listed = (await r.json())["data"]
        assert [k["name"] for k in listed] == ["alice"] and listed[0]["spend"] == 0.0
        assert created["key"] not in await r.text()

        await services.ring.refresh()  # type: ignore[union-attr]  (the poll does this twice a second)
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {created['key']}"})
        assert (await r.json()) == {"key": "alice"}
        r = await client.get("/whoami")
        assert r.status == 401
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {created['key']}x"})
        assert r.status == 401

        r = await client.delete("/admin/keys/alice", headers=admin)
        assert r.status == 200 and (await r.json())["revoked"] is not None
        r = await client.delete("/admin/keys/nobody", headers=admin)
        assert r.status == 404
        await services.ring.refresh()  # type: ignore[union-attr]
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {created['key']}"})
        assert r.status == 401
    finally:
        await client.close()


async def test_admin_api_off_without_admin_key_when_auth_required(services: KeyServices):
    client = await client_for(services, required=True, admin_key=None)
    try:
        r = await client.get("/admin/keys", headers={"Authorization": "Bearer anything"})
        assert r.status == 403 and (await r.json())["error"]["code"] == "admin_disabled"
    finally:
        await client.close()


async def test_auth_optional_ignores_foreign_bearers(services: KeyServices):
    client = await client_for(services, required=False, admin_key=None)
    try:
        assert (await (await client.get("/whoami")).json()) == {"key": None}
        r = await client.get("/whoami", headers={"Authorization": "Bearer sk-placeholder"})
        assert (await r.json()) == {"key": None}
        r = await client.get("/whoami", headers={"Authorization": "Bearer sk-llms-00000000_wrong"})
        assert r.status == 401  # a key of ours that is wrong is refused, auth required or not
        r = await client.get("/admin/keys")  # no admin key set, auth off: the laptop's own API
        assert r.status == 200
    finally:
        await client.close()
