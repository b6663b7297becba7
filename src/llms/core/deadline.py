"""The request's time budget as the transport sees it: the router sets one `Deadline` per
request in a context variable, and every upstream wait of that request (connect, first byte,
idle gap, the first token of a stream) is capped by it — one timer per attempt, no matter how
many limits apply. Lives in core because the router sets it and the transport reads it."""

from __future__ import annotations

from contextvars import ContextVar

NEVER = float("inf")


class Deadline:
    """`at`: event-loop time by which the whole request must be over (`seconds` after it
    began). `first_token_by`: while a streamed attempt has not yet produced content, the
    loop time by which it must (the router moves it per attempt, and to NEVER at commit)."""

    __slots__ = ("at", "seconds", "first_token_by", "first_token_seconds")

    def __init__(self, at: float, seconds: float) -> None:
        self.at = at
        self.seconds = seconds
        self.first_token_by = NEVER
        self.first_token_seconds = 0.0


current_deadline: ContextVar[Deadline | None] = ContextVar("llms_request_deadline", default=None)
