"""Who may drive the gateway, decided from the request head before any body is read.

- **Host** (DNS rebinding): a page on `evil.test` whose name is re-pointed at 127.0.0.1 talks
  to the gateway as "its own" origin, so only Host values that name this machine are served:
  `localhost` (and `*.localhost`), the loopback addresses, with any port, plus
  `server.allowed_hosts`. On a non-loopback bind (Docker's 0.0.0.0) IP-address Hosts and the
  bound name are served too: a rebinding attack always needs a DNS name the attacker controls.
  `"*"` turns the check off (a reverse proxy that checks Host itself).
- **Origin** (any web page can POST `text/plain` JSON with `mode: "no-cors"`, no preflight):
  a request that carries an `Origin` header must come from the gateway's own origin, a
  loopback origin (a front end in development) or `cors.allow_origins`; any other gets a 403
  in the OpenAI envelope and is never forwarded. Preflights from allowed origins get a 204,
  answers to them `Access-Control-Allow-Origin`.

Cost on the hot path: a request without `Origin` whose Host was seen before costs two header
lookups and one set membership; decisions are cached per Host and per Origin value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

from ..core.errors import GatewayError

SERVER = "llms"  # the Server header: no versions for a scanner to match
METHODS = "GET, POST, OPTIONS"
EXPOSED = (
    "x-request-id, x-llms-provider, x-llms-provider-model, x-llms-tried, x-llms-pricing, "
    "x-llms-duration, retry-after, *"
)
MAX_AGE = "600"
_CACHE = 1024  # distinct Host / Origin values remembered; past it they are judged each time
CORS = "llms.cors"  # on the request: the allowed cross origin its answer is for


def forbidden(message: str, code: str) -> GatewayError:
    return GatewayError(message, status=403, type="permission_error", code=code)


def host_name(value: str) -> str:
    """`Host` without its port, lower-case, without a trailing dot; `[::1]:8000` → `::1`."""
    v = value.strip().lower()
    if v.startswith("["):
        end = v.find("]")
        return v[1:end] if end > 0 else v
    if v.count(":") == 1:
        v = v.split(":", 1)[0]
    return v.rstrip(".")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):  # browsers resolve these to loopback themselves
        return True
    ip = _ip(name)
    return ip is not None and ip.is_loopback


class EdgePolicy:
    """The Host and Origin policy of one gateway; `configure` swaps it on reload."""

    def __init__(
        self, allow_origins: Iterable[str] = (), allowed_hosts: Iterable[str] = (), *, bind_host: str = "127.0.0.1"
    ) -> None:
        self.bind_host = bind_host.strip("[]").lower()
        self.loopback_bind = is_loopback_name(self.bind_host)
        self.configure(allow_origins, allowed_hosts)

    def configure(self, allow_origins: Iterable[str], allowed_hosts: Iterable[str]) -> None:
        self.allow_origins = frozenset(o.rstrip("/").lower() for o in allow_origins)
        hosts = [h.lower().rstrip(".") for h in allowed_hosts]
        self.any_host = "*" in hosts
        self.host_names = frozenset(h for h in hosts if not h.startswith("."))
        self.host_suffixes = tuple(h for h in hosts if h.startswith("."))
        self._good_hosts: set[str | None] = {None}  # no Host header: not a browser
        self._origins: dict[str, bool] = {}

    # -- the check, run for every request ---------------------------------------------------

    def check(self, request: web.Request) -> web.StreamResponse | None:
        """Raise a 403 for a foreign Host or Origin; answer a preflight; else None (go on)."""
        headers = request.headers
        host = headers.get("Host")
        if host not in self._good_hosts:
            self._check_host(host)  # type: ignore[arg-type]
        origin = headers.get("Origin")
        if origin is None:
            return None
        return self._check_origin(request, origin, host)

    def _check_host(self, host: str) -> None:
        if not self.host_allowed(host):
            shown = host if len(host) <= 100 else host[:100] + "…"
            raise forbidden(
                f"Host {shown!r} is not served by this gateway (DNS rebinding protection): "
                "add it to `server.allowed_hosts` in llms.json",
                "host_not_allowed",
            )
        if len(self._good_hosts) < _CACHE:
            self._good_hosts.add(host)

    def host_allowed(self, host: str) -> bool:
        name = host_name(host)
        if self.any_host or is_loopback_name(name) or name in self.host_names:
            return True
        if any(name.endswith(s) for s in self.host_suffixes):
            return True
        if self.loopback_bind:
            return False
        return name == self.bind_host or _ip(name) is not None

    def _check_origin(self, request: web.Request, origin: str, host: str | None) -> web.StreamResponse | None:
        own = host is not None and same_origin(origin, host)
        if not own:
            allowed = self._origins.get(origin)
            if allowed is None:
                allowed = self.origin_allowed(origin)
                if len(self._origins) < _CACHE:
                    self._origins[origin] = allowed
            if not allowed:
                shown = origin if len(origin) <= 100 else origin[:100] + "…"
                raise forbidden(
                    f"Origin {shown!r} may not use this gateway: add it to `cors.allow_origins` in llms.json",
                    "origin_not_allowed",
                )
            request[CORS] = origin
            if type(request) is web.Request:
                request.__class__ = CorsRequest
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return preflight(origin, request.headers.get("Access-Control-Request-Headers", ""))
        return None

    def origin_allowed(self, origin: str) -> bool:
        o = origin.strip().rstrip("/").lower()
        if "*" in self.allow_origins or o in self.allow_origins:
            return True
        if o == "null":
            return False
        parts = urlsplit(o)
        return parts.scheme in ("http", "https") and parts.hostname is not None and is_loopback_name(parts.hostname)


def same_origin(origin: str, host: str) -> bool:
    """The page came from this gateway under the name the request uses (scheme aside: TLS may
    end at a proxy in front)."""
    scheme, sep, netloc = origin.partition("://")
    if not sep:
        return False
    return _strip_default_port(netloc.lower(), scheme) == _strip_default_port(host.lower(), scheme)


def _strip_default_port(netloc: str, scheme: str) -> str:
    default = ":443" if scheme == "https" else ":80"
    return netloc[: -len(default)] if netloc.endswith(default) else netloc


def preflight(origin: str, requested_headers: str) -> web.Response:
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": METHODS,
        "Access-Control-Max-Age": MAX_AGE,
        "Vary": "Origin, Access-Control-Request-Headers",
    }
    # Echo the requested header names (authorization, content-type, x-llms-timeout, …) as tokens only.
    names = [h.strip() for h in requested_headers.split(",") if h.strip() and h.strip().replace("-", "").isalnum()]
    if names:
        headers["Access-Control-Allow-Headers"] = ", ".join(names)
    return web.Response(status=204, headers=headers)


class CorsRequest(web.Request):
    """A request from an allowed cross origin: its answer gets the CORS headers as it is
    prepared, streams included. The guard makes such a request this class (same layout,
    one more method); every other request stays a plain `web.Request` and pays nothing (a
    response-prepare signal would cost every answer a coroutine)."""

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        headers = response.headers
        if "Access-Control-Allow-Origin" not in headers:  # a preflight has its own
            headers["Access-Control-Allow-Origin"] = self[CORS]
            headers["Access-Control-Expose-Headers"] = EXPOSED
            vary = headers.get("Vary")
            headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
        await super()._prepare_hook(response)
