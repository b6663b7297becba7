"""Who may use the gateway, and where the limits are counted: the `auth` block and the
`limits` keys for client keys, validated with the same path-named errors as the rest.

    "auth":   {"required": true, "admin_key": "$LLMS_ADMIN_KEY"}
              (llms.py's own `auth` keys, e.g. "enabled" or "github", stay accepted and unused)
    "limits": {"redis_url": "redis://127.0.0.1:6379/0", "fail_closed": false, …}

Keys live in the ledger's database (`usage.path`/`usage.dsn`), so `llms keys` and the server
always agree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol


class Checker(Protocol):
    def fail(self, where: str, reason: str) -> Exception: ...

    def obj(self, value: Any, where: str) -> dict[str, Any]: ...


@dataclass(slots=True, frozen=True)
class Access:
    """`required`: every API request needs a client key. `admin_key`: the key for /admin,
    /usage and /status details (None: unset; `admin_key_env` names a missing variable)."""

    required: bool = False
    admin_key: str | None = None
    admin_key_env: str | None = None
    redis_url: str | None = None
    fail_closed: bool = False


def parse_access(c: Checker, root: dict[str, Any], env: dict[str, str] | os._Environ[str]) -> Access:
    from .schema import resolve_secret  # (schema imports this module)

    auth = c.obj(root.get("auth", {}), "auth")
    limits = c.obj(root.get("limits", {}), "limits")
    required = auth.get("required", False)
    if not isinstance(required, bool):
        raise c.fail("auth.required", "expected true or false")
    admin_key = admin_env = None
    if auth.get("admin_key") is not None:
        if not isinstance(auth["admin_key"], str) or not auth["admin_key"]:
            raise c.fail("auth.admin_key", 'expected a string such as "$LLMS_ADMIN_KEY"')
        admin_key, admin_env = resolve_secret(auth["admin_key"], env)
    redis_url = None
    if limits.get("redis_url") is not None:
        if not isinstance(limits["redis_url"], str):
            raise c.fail("limits.redis_url", "expected a redis:// URL")
        redis_url, var = resolve_secret(limits["redis_url"], env)
        if redis_url is None:
            raise c.fail("limits.redis_url", f"${var} is not set")
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise c.fail("limits.redis_url", "expected a redis://, rediss:// or unix:// URL")
    fail_closed = limits.get("fail_closed", False)
    if not isinstance(fail_closed, bool):
        raise c.fail("limits.fail_closed", "expected true or false")
    return Access(required, admin_key, admin_env, redis_url, fail_closed)
