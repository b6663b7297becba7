"""The server-edge keys of `llms.json`: who may drive the gateway from a browser, which Host
names it answers to, and how long a client may take to send its request. Validated with the
same path-named errors as the rest of the schema; `llms.app` hands the plain values to the
server.

    "cors":   {"allow_origins": ["https://app.example.com"]}      "*": every page (see README)
    "server": {"allowed_hosts": ["llms.example.com", ".internal"],  "*": no Host check
               "header_timeout": 15, "body_timeout": 60}
    "auth":   llms.py's own sign-in (`enabled`, `github`) is not implemented here: when it is on
              without client keys (`auth.required`, config/access.py), a start notice says so
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CORS_KEYS = ("allow_origins",)
SERVER_KEYS = ("allowed_hosts", "header_timeout", "body_timeout")
_ORIGIN = re.compile(r"^https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
_HOST = re.compile(r"^(\*|\.?[A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\])$")
AUTH_NOTICE = (
    "llms.json turns on llms.py's `auth` (GitHub sign-in), which this gateway does not implement: "
    'it is ignored; `"auth": {"required": true}` turns on client keys (docs/keys.md), until then anyone '
    "who can reach the port uses your keys"
)


@dataclass(slots=True)
class Edge:
    allow_origins: tuple[str, ...] = ()  # added to the gateway's own and the loopback origins
    allowed_hosts: tuple[str, ...] = ()  # added to the names of the machine
    header_timeout: float = 15.0  # seconds for a request head, from the connection or its first byte
    body_timeout: float = 60.0  # seconds for a request body, from the end of its head
    auth_requested: bool = False  # llms.py's sign-in is on without client keys: the start notice says so


def parse_edge(c: Any, root: dict[str, Any]) -> Edge:
    """`cors`, `server` and the presence of `auth` (`c` is the schema's checker)."""
    out = Edge()
    cors = _keys(c, root.get("cors", {}), "cors", CORS_KEYS)
    if "allow_origins" in cors:
        out.allow_origins = tuple(
            _origin(c, v, f"cors.allow_origins[{i}]")
            for i, v in enumerate(_list(c, cors["allow_origins"], "cors.allow_origins"))
        )
    server = _keys(c, root.get("server", {}), "server", SERVER_KEYS)
    if "allowed_hosts" in server:
        out.allowed_hosts = tuple(
            _host(c, v, f"server.allowed_hosts[{i}]")
            for i, v in enumerate(_list(c, server["allowed_hosts"], "server.allowed_hosts"))
        )
    if "header_timeout" in server:
        out.header_timeout = c.number(server["header_timeout"], "server.header_timeout")
    if "body_timeout" in server:
        out.body_timeout = c.number(server["body_timeout"], "server.body_timeout")
    auth = root.get("auth")
    llms_py_keys = isinstance(auth, dict) and ("enabled" in auth or "github" in auth)
    out.auth_requested = (
        llms_py_keys and auth.get("enabled") is not False and auth.get("required") is not True  # type: ignore[union-attr]
    )
    return out


def _keys(c: Any, value: Any, where: str, known: tuple[str, ...]) -> dict[str, Any]:
    obj = c.obj(value, where)
    for key in obj:
        if key not in known:
            raise c.fail(f"{where}.{key}", f"unknown key (expected one of {', '.join(known)})")
    return obj


def _list(c: Any, value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise c.fail(where, "expected an array of strings")
    return value


def _origin(c: Any, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise c.fail(where, "expected a string")
    v = value.strip().rstrip("/").lower()
    if v in ("*", "null") or _ORIGIN.match(v):
        return v
    raise c.fail(where, f'expected "*", "null" or an origin such as "https://app.example.com" (no path), got {value!r}')


def _host(c: Any, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise c.fail(where, "expected a string")
    v = value.strip().lower().rstrip(".")
    if _HOST.match(v):
        return v
    raise c.fail(where, f'expected "*", a host name ("llms.example.com"), ".suffix" or an IP address, got {value!r}')
