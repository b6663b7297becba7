"""The two lifetimes the server is handed, never mixed:

- `Services` live as long as the process (the ledger now; the limiter and metrics later): built
  once by `llms.app`, injected, never touched by a reload;
- `Runtime` is what one `llms.json` says the HTTP side should do (body limit, keep-alive, the
  /status provider list…). A reload builds a new one and swaps it whole into `Current`, which
  every handler reads per request; the router's table is swapped beside it (`Router.swap`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..core.outbound import Outbound
from ..core.types import RequestRecord
from .admin_keys import Admin
from .auth import Gate
from .health import Readiness


@dataclass(frozen=True, slots=True)
class Runtime:
    max_size: int = 20 * 1024 * 1024
    default_model: str | None = None
    providers: tuple[Mapping[str, Any], ...] = ()  # for /status: name, type, state, models
    keepalive: float = 15.0  # SSE comment frame after this many seconds of silence (0: never)
    write_timeout: float = 60.0  # a client that reads nothing for this long is cut off (streams and large answers)
    allow_origins: tuple[str, ...] = ()  # `cors.allow_origins`, beyond the own and loopback origins
    allowed_hosts: tuple[str, ...] = ()  # `server.allowed_hosts`, beyond the machine's own names
    header_timeout: float = 15.0  # seconds for a request head (the connection level)
    body_timeout: float = 60.0  # seconds for a request body once its head is in


class Current:
    """The runtime in force; `runtime` is replaced (never edited) on reload."""

    __slots__ = ("runtime",)

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime


CURRENT = web.AppKey("current", Current)  # on the app: read per request where a setting follows reloads


@dataclass(frozen=True, slots=True)
class Services:
    """Process-lifetime services. `record` takes every finished request's record (off the hot
    path: it only queues); `store_content` asks the pipeline to keep the messages on it;
    `stats` reports the ledger for /status; `trace` and `metrics` are the observability
    services (`llms.observe`), each None when off; `readiness` answers /health/ready."""

    record: Callable[[RequestRecord], None] | None = None
    store_content: bool = False
    stats: Callable[[], Mapping[str, Any]] | None = None
    # tracing on: opens a request's span once its model is known (id, client headers, record,
    # body, operation: chat or embeddings) and returns the `Outbound` its upstream requests go out with
    trace: Callable[[str, Mapping[str, str], RequestRecord, Mapping[str, Any], str], Outbound] | None = None
    metrics: Callable[[], bytes] | None = None  # GET /metrics: the exposition text
    metrics_type: str = "text/plain; charset=utf-8"
    gate: Gate | None = None  # client keys: who is asking, which models, which limits
    admin: Admin | None = None  # the operations behind /admin/keys
    keys: Callable[[], Mapping[str, Any]] | None = None  # for /status: the limiter's state
    # /health/ready: draining, providers enabled, required backends (services add their checks)
    readiness: Readiness = field(default_factory=Readiness)
