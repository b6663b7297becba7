"""Helpers for the end-to-end key tests: a gateway config with client keys on, and the admin
API as a test calls it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ..conftest import two_provider_config
from ..fake_upstream import FakeUpstream

ADMIN_KEY = "llms-admin-test-key"
ENV = {"LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret", "LLMS_TEST_UNSET_KEY": "", "LLMS_ADMIN_KEY": ADMIN_KEY}


def keys_config(upstream: FakeUpstream, redis_url: str | None = None, **limits: Any) -> dict[str, Any]:
    config = two_provider_config(upstream)
    config["auth"] = {"required": True, "admin_key": "$LLMS_ADMIN_KEY"}
    if redis_url is not None:
        config["limits"] = {**config["limits"], "redis_url": redis_url, **limits}
    return config


def admin(base: str, method: str, path: str, body: Any = None, key: str | None = ADMIN_KEY) -> tuple[int, Any]:
    """One admin API call: (status, decoded JSON)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def create_key(base: str, name: str, **settings: Any) -> str:
    status, body = admin(base, "POST", "/admin/keys", {"name": name, **settings})
    assert status == 201, body
    return str(body["key"])
