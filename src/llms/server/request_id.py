"""The request id: a client's own `x-request-id` when it is safe to echo, log and store, else
a fresh one. Safe means 1..128 characters of `A-Z a-z 0-9 . _ : / + = -` — no space, no
control character, so an id can never split a log line or a header, and stays a short key
in the ledger. An id that is not safe is replaced, not refused: a request never fails over
a correlation id (the answer's `x-request-id` tells the client which one was used)."""

from __future__ import annotations

import itertools
import os
import re

from ..core.outbound import REQUEST_ID_HEADER

MAX_LENGTH = 128
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


__all__ = ["MAX_LENGTH", "REQUEST_ID_HEADER", "accept_request_id", "new_request_id"]
