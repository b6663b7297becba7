"""One ledger entry per client request (`UsageRecord`) and its flat row form: the column order
both backends write and read, so SQLite and PostgreSQL share one schema and one mapping."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict

import orjson

Outcome = Literal["ok", "client_error", "upstream_error", "timeout", "cancelled", "truncated"]
OUTCOMES: tuple[str, ...] = ("ok", "client_error", "upstream_error", "timeout", "cancelled", "truncated")


class Attempt(TypedDict):
    """One try at one provider: the HTTP status it gave (None when no answer came), our error
    code (None on success) and how long it took."""

    provider: str
    status: int | None
    error: str | None
    seconds: float


def new_request_id() -> str:
    """A fresh id, also meant for the `x-request-id` header."""
    return "req_" + uuid.uuid4().hex


@dataclass(slots=True)
class UsageRecord:
    """What the ledger keeps about one client request. Token counts, `cost` and timings are
    None when unknown (an upstream that reports no usage) — never a guess shown as fact.
    `created` is unix seconds (float); `content` is set only when `usage.store_content` is on."""

    id: str
    created: float
    api: str
    model: str
    provider: str | None
    provider_model: str | None
    stream: bool
    status: int
    outcome: Outcome
    attempts: list[Attempt] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    key: str | None = None
    content: dict[str, Any] | None = None

    @classmethod
    def start(cls, api: str, model: str, stream: bool) -> UsageRecord:
        """A record for a request that is just arriving: a new id, `created` now."""
        return cls(new_request_id(), time.time(), api, model, None, None, stream, 0, "ok")

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the API (`content` only when stored)."""
        out = asdict(self)
        if out["content"] is None:
            del out["content"]
        return out


# Column order of the `requests` table as the backends write and read it.
COLUMNS: tuple[str, ...] = (
    "id", "created", "api", "model", "provider", "provider_model", "stream", "status", "outcome",
    "attempts", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cost",
    "ttft_ms", "duration_ms", "key", "content",
)  # fmt: skip


def to_row(r: UsageRecord) -> tuple[Any, ...]:
    """The record as a row in COLUMNS order; `attempts` and `content` as JSON text."""
    return (
        r.id, r.created, r.api, r.model, r.provider, r.provider_model, bool(r.stream), r.status, r.outcome,
        orjson.dumps(r.attempts).decode(), r.prompt_tokens, r.completion_tokens, r.cached_tokens,
        r.reasoning_tokens, r.cost, r.ttft_ms, r.duration_ms, r.key,
        None if r.content is None else orjson.dumps(r.content).decode(),
    )  # fmt: skip


def from_row(row: tuple[Any, ...] | Any) -> UsageRecord:
    """Back from a row in COLUMNS order (SQLite gives 0/1 for `stream`)."""
    values = list(row)
    values[6] = bool(values[6])
    values[9] = orjson.loads(values[9])
    if values[18] is not None:
        values[18] = orjson.loads(values[18])
    return UsageRecord(*values)


def to_json_line(r: UsageRecord) -> bytes:
    """One spool line."""
    return orjson.dumps(asdict(r)) + b"\n"


def from_json_line(line: bytes) -> UsageRecord:
    return UsageRecord(**orjson.loads(line))
