"""What an inbound codec hands the shared pipeline: a `Call` — the internal (OpenAI chat)
request, who is asking, and the request record the router, the stream driver and the handler
fill in. Request-scoped data lives here, never in string keys on the aiohttp request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..core.types import RequestRecord
from .request_id import new_request_id


@dataclass(frozen=True, slots=True)
class Client:
    """Who is asking. Empty until client keys exist; then the key's id and its limits."""

    key: str | None = None


ANONYMOUS = Client()


def new_record(request_id: str | None = None) -> RequestRecord:
    """The record of a request that is just arriving; its id is `request_id` (the client's,
    accepted by `request_id.accept_request_id`) or a new one."""
    return RequestRecord(request_id or new_request_id(), "", time.perf_counter(), time.time())


@dataclass(slots=True)
class Call:
    """One parsed client request on its way through router and providers (`body` may be a
    `core.types.Native` carrying the client's own body beside the chat request).
    `strip_usage`: the gateway asked the upstream for usage the client did not ask for, so the
    codec drops the usage-only chunk from the client's stream."""

    body: dict[str, Any]
    record: RequestRecord
    client: Client = ANONYMOUS
    budget: float | None = None
    strip_usage: bool = False
    op: str = "chat"  # what the router is asked: "chat" (plain or streamed) or "embed"
