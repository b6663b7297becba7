"""The ledger's read API: `GET /usage/requests`, `GET /usage/requests/{id}`, `GET /usage/summary`
(JSON, or CSV with `Accept: text/csv`). Parameters are checked here and a bad one answers 400
naming it; the sink is whatever `app` injects (the server may not import `llms.usage`, so the
few methods it reads are a protocol of its own, which every ledger sink satisfies).

Formats: `from`/`to` take unix seconds (`1767225600`, `1767225600.5`), an ISO date (`2026-01-01`,
midnight UTC) or date-time (`2026-01-01T12:00:00Z`; no zone means UTC), or a span back from now
(`30m`, `12h`, `7d`, `2w`); `from` is inclusive, `to` exclusive, either may be left out. `limit`
is an integer from 1 to 1000 (default 20); `before` is a record id (the last one of a page)."""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from datetime import UTC, date, datetime
from typing import Any, Protocol

import orjson
from aiohttp import web

from ..core.errors import GatewayError, InvalidRequest, NotFound

log = logging.getLogger("llms.server")

MAX_LIMIT = 1000
OUTCOMES = ("ok", "client_error", "upstream_error", "timeout", "cancelled", "truncated")
GROUPS = ("day", "model", "provider", "key")
SUMMARY_FIELDS = ("group", "requests", "errors", "prompt_tokens", "completion_tokens", "cost", "p50_ms", "p95_ms")
SPAN = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
SPAN_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Record(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class UsageReader(Protocol):
    """The part of `llms.usage.Sink` this API reads."""

    async def requests(
        self,
        limit: int = 20,
        before: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        key: str | None = None,
        outcome: str | None = None,
    ) -> Any: ...

    async def get(self, id: str) -> Any: ...

    async def summary(self, start: float | None = None, end: float | None = None, group_by: str = "day") -> Any: ...


def parse_time(value: str, name: str, now: float | None = None) -> float:
    """Unix seconds from one of the documented formats; InvalidRequest naming `name` otherwise."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    span = SPAN.match(text)
    if span:
        return (time.time() if now is None else now) - float(span[1]) * SPAN_SECONDS[span[2]]
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC).timestamp()
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        pass
    raise InvalidRequest(
        f"Invalid '{name}': {value!r}. Use unix seconds, an ISO date or date-time (2026-01-31, "
        "2026-01-31T12:00:00Z), or a span back from now (30m, 12h, 7d, 2w).",
        param=name,
        code="invalid_parameter",
    )


def parse_limit(value: str | None) -> int:
    if value is None:
        return 20
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        message = f"Invalid 'limit': {value!r}. Use an integer from 1 to {MAX_LIMIT}."
        raise InvalidRequest(message, param="limit", code="invalid_parameter")
    return limit


def choice(query: Any, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    value = query.get(name, default)
    if value is not None and value not in allowed:
        raise InvalidRequest(
            f"Invalid '{name}': {value!r}. Use one of: {', '.join(allowed)}.", param=name, code="invalid_parameter"
        )
    return value


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def summary_csv(rows: list[dict[str, Any]]) -> str:
    """One header line, then one line per group; an unknown value (null) is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SUMMARY_FIELDS)
    for row in rows:
        writer.writerow(["" if row.get(f) is None else row[f] for f in SUMMARY_FIELDS])
    return out.getvalue()


def wants_csv(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


class UsageRoutes:
    def __init__(self, sink: UsageReader) -> None:
        self.sink = sink

    async def _read(self, call: Any) -> Any:
        """A read that fails (PostgreSQL down, a locked file) answers 503, not 500."""
        try:
            return await call
        except GatewayError:
            raise
        except Exception as e:
            log.warning("usage: read failed: %s", e)
            raise GatewayError(
                "The usage ledger cannot be read right now; try again shortly.",
                status=503, type="server_error", code="usage_unavailable",
            ) from e  # fmt: skip

    async def requests(self, request: web.Request) -> web.Response:
        q = request.query
        limit = parse_limit(q.get("limit"))
        outcome = choice(q, "outcome", OUTCOMES)
        filters = {name: q.get(name) or None for name in ("before", "model", "provider", "key")}
        page = await self._read(self.sink.requests(limit=limit, outcome=outcome, **filters))
        data = [r.to_dict() for r in page["data"]]
        return _json({"object": "list", "data": data, "has_more": bool(page["has_more"])})

    async def record(self, request: web.Request) -> web.Response:
        rid = request.match_info["id"]
        record = await self._read(self.sink.get(rid))
        if record is None:
            raise NotFound(f"No usage record with id '{rid}'", param="id", code="usage_record_not_found")
        return _json(record.to_dict())

    async def summary(self, request: web.Request) -> web.Response:
        q = request.query
        now = time.time()
        start = parse_time(q["from"], "from", now) if q.get("from") else None
        end = parse_time(q["to"], "to", now) if q.get("to") else None
        group_by = choice(q, "group_by", GROUPS, "day") or "day"
        rows = await self._read(self.sink.summary(start=start, end=end, group_by=group_by))
        if wants_csv(request):
            return web.Response(text=summary_csv(rows), content_type="text/csv", charset="utf-8")
        return _json({"object": "list", "data": rows})


def add_usage_routes(app: web.Application, sink: UsageReader) -> None:
    """Registers the read API over `sink`. Call it only when the ledger is on: with it off the
    paths answer 404, which the analytics page shows as "the usage ledger is off"."""
    routes = UsageRoutes(sink)
    app.router.add_get("/usage/requests", routes.requests)
    app.router.add_get("/usage/requests/{id}", routes.record)
    app.router.add_get("/usage/summary", routes.summary)
