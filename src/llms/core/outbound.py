"""What every upstream HTTP request of one client request carries, and the hook a tracer uses
to see each attempt: the server sets one `Outbound` per request in a context variable (aiohttp
runs each request in a task of its own, so it never leaks into another); the transport reads
it for every request it sends. Lives in core because the server sets it and the transport
reads it — the same shape as `deadline.py`."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

REQUEST_ID_HEADER = "x-request-id"  # from the client, and on every answer
# Upstream, the id travels as OpenAI's header for a caller's own request id, not as
# `x-request-id`: some OpenAI-compatible servers (llama-cpp-python's, through starlette-context)
# answer 400 to an `x-request-id` that is not a UUID, and an upstream's own `x-request-id` is its id.
UPSTREAM_ID_HEADER = "x-client-request-id"


class AttemptHook(Protocol):
    """Told once how one upstream HTTP request ended: its status (None when no answer came)
    and the error that ended it (None when it ended well), also for a stream cut short."""

    def end(self, status: int | None, error: BaseException | None) -> None: ...


class Outbound:
    """The request id, sent upstream as `x-client-request-id` (and, from `current_request_id`, put on
    every log line about the request). A tracer subclasses it to open a span per attempt and
    add that span's `traceparent`."""

    __slots__ = ("request_id", "headers")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.headers = {UPSTREAM_ID_HEADER: request_id}

    def attempt(self, provider: str) -> tuple[dict[str, str], AttemptHook | None]:
        """Headers to add to one upstream request to `provider`, and who to tell how it ended."""
        return self.headers, None


current_outbound: ContextVar[Outbound | None] = ContextVar("llms_outbound", default=None)


def current_request_id() -> str | None:
    """The id of the request this code runs for (None outside a request)."""
    out = current_outbound.get()
    return None if out is None else out.request_id
