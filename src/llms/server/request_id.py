"""The request id: a client's own `x-request-id` when it is safe to echo, log and store, else
a fresh one. Safe means 1..128 characters of `A-Z a-z 0-9 . _ : / + = -` — no space, no
control character, so an id can never split a log line or a header, and stays a short key
in the ledger. An id that is not safe is replaced, not refused: a request never fails over
a correlation id (the answer's `x-request-id` tells the client which one was used).

The id is also the ledger record's key, and a record whose id is already stored is not
stored again. Proxies and clients that retry keep their `x-request-id` (Envoy does), so a
client id seen among the last RECENT ones gets a suffix — `abc`, then `abc.2`, `abc.3` — and
each try keeps a record of its own. (Across restarts or worker processes a reused id still
names one record.)"""

from __future__ import annotations

import itertools
import os
import re

from ..core.outbound import REQUEST_ID_HEADER

MAX_LENGTH = 128
RECENT = 10_000  # client ids remembered, per process
_SAFE = re.compile(r"[A-Za-z0-9._:/+=\-]{1,128}")


_PROCESS = os.urandom(8).hex()  # unique per process (64 random bits) …
_COUNTER = itertools.count()  # … and per request within it: no syscall per request


def new_request_id() -> str:
    """`req_<32 hex>`: unique, not secret."""
    return f"req_{_PROCESS}{next(_COUNTER):016x}"


def accept_request_id(value: str | None) -> str:
    """The client's id if it is safe, else a new one."""
    if value is not None and _SAFE.fullmatch(value) is not None:
        return value
    return new_request_id()


class RequestIds:
    """`accept_request_id`, and a client id seen recently made unique with a suffix."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}  # client id -> times seen (insertion order: oldest first)

    def accept(self, value: str | None) -> str:
        if value is None:
            return new_request_id()
        if _SAFE.fullmatch(value) is None:
            return new_request_id()
        seen = self._seen
        n = seen.get(value)
        if n is None:
            seen[value] = 1
            if len(seen) > RECENT:
                del seen[next(iter(seen))]
            return value
        seen[value] = n + 1
        return f"{value}.{n + 1}"


__all__ = ["MAX_LENGTH", "REQUEST_ID_HEADER", "RequestIds", "accept_request_id", "new_request_id"]
