"""The `usage` section of `llms.json`: the request ledger.

    "usage": false                         no ledger
    "usage": {"path": "~/.llms/usage.db",  SQLite file (default: $LLMS_HOME/usage.db)
              "dsn": "postgresql://…",     PostgreSQL instead (also `$LLMS_DATABASE_URL`, or "$VAR")
              "store_content": false,      keep the messages too
              "retention_days": 30}        …and forget them after this many days
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .schema import _Checker

USAGE_KEYS = ("path", "dsn", "store_content", "retention_days")
DSN_ENV = "LLMS_DATABASE_URL"


@dataclass(frozen=True, slots=True)
class UsageSettings:
    enabled: bool = True
    path: str | None = None  # None: $LLMS_HOME/usage.db
    dsn: str | None = None
    store_content: bool = False
    retention_days: float = 30.0


def parse_usage(c: _Checker, root: dict[str, Any], env: dict[str, str] | os._Environ[str]) -> UsageSettings:
    from .schema import _kind, resolve_secret

    value = root.get("usage", True)
    env_dsn = env.get(DSN_ENV) or None
    if value is True:
        return UsageSettings(dsn=env_dsn)
    if value is False:
        return UsageSettings(enabled=False)
    obj = c.obj(value, "usage")
    for key in obj:
        if key not in USAGE_KEYS:
            raise c.fail(f"usage.{key}", f"unknown key (expected one of {', '.join(USAGE_KEYS)})")
    for key in ("path", "dsn"):
        if key in obj and not isinstance(obj[key], str | None):
            raise c.fail(f"usage.{key}", f"expected a string, got {_kind(obj[key])}")
    dsn = obj.get("dsn")
    if dsn:
        dsn, name = resolve_secret(dsn, env)
        if dsn is None:
            raise c.fail("usage.dsn", f"${name} is not set")
        if not dsn.startswith(("postgresql://", "postgres://")):
            raise c.fail("usage.dsn", "expected a postgresql:// URL")
    store = obj.get("store_content", False)
    if not isinstance(store, bool):
        raise c.fail("usage.store_content", f"expected true or false, got {_kind(store)}")
    days = c.number(obj["retention_days"], "usage.retention_days") if "retention_days" in obj else 30.0
    return UsageSettings(
        path=obj.get("path") or None, dsn=dsn or env_dsn, store_content=store, retention_days=days
    )
