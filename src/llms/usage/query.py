"""The ledger's read queries, built once for both backends: SQL with `?` placeholders plus the
few spots where the dialects differ (the day of a timestamp, null-safe equality). Percentiles
are nearest-rank (the value at rank ceil(p·n)), computed with window functions so SQLite and
PostgreSQL give the same numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from .record import COLUMNS, OUTCOMES, UsageRecord, from_row

GroupBy = Literal["day", "model", "provider", "key"]
GROUPS: tuple[str, ...] = ("day", "model", "provider", "key")
MAX_LIMIT = 1000
SELECT_RECORD = f"SELECT {', '.join(COLUMNS)} FROM requests"
INSERT_RECORD = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


class Page(TypedDict):
    """One page of `requests()`, newest first; `has_more` says an older page exists."""

    data: list[UsageRecord]
    has_more: bool


class SummaryRow(TypedDict):
    group: str | None
    requests: int
    errors: int
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class Dialect:
    day: str  # SQL giving YYYY-MM-DD (UTC) of `created`
    same: str  # null-safe equality operator


SQLITE = Dialect(day="strftime('%Y-%m-%d', created, 'unixepoch')", same="IS")
POSTGRES = Dialect(day="to_char(to_timestamp(created) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                   same="IS NOT DISTINCT FROM")  # fmt: skip


FORGET_CONTENT = "UPDATE requests SET content = NULL WHERE content IS NOT NULL AND created < ?"


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …` (our SQL has no `?` in literals)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def requests_query(
    limit: int = 20,
    before: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    key: str | None = None,
    outcome: str | None = None,
) -> tuple[str, list[Any], int]:
    """SQL, parameters and the clamped limit for a page of records older than the record
    `before` (an id), newest first. One row past the limit is fetched to know `has_more`."""
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    where, params = [], []
    for column, value in (("model", model), ("provider", provider), ("key", key), ("outcome", outcome)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if before is not None:
        where.append("(created, id) < (SELECT created, id FROM requests WHERE id = ?)")
        params.append(before)
    sql = SELECT_RECORD + (" WHERE " + " AND ".join(where) if where else "")
    sql += f" ORDER BY created DESC, id DESC LIMIT {limit + 1}"
    return sql, params, limit


def page_of(rows: list[Any], limit: int, to_record: Any) -> Page:
    return {"data": [to_record(r) for r in rows[:limit]], "has_more": len(rows) > limit}


def summary_query(
    dialect: Dialect, start: float | None = None, end: float | None = None, group_by: str = "day"
) -> tuple[str, list[Any]]:
    """Per group: requests, errors (every outcome but `ok`), token and cost sums (null when no
    record in the group knew them), and nearest-rank p50/p95 of `duration_ms`; within
    `start <= created < end` (unix seconds, either open)."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    group = dialect.day if group_by == "day" else group_by
    where, params = [], []
    if start is not None:
        where.append("created >= ?")
        params.append(float(start))
    if end is not None:
        where.append("created < ?")
        params.append(float(end))
    sql = f"""
WITH f AS (
  SELECT {group} AS g, outcome, prompt_tokens, completion_tokens, cost, duration_ms
  FROM requests {"WHERE " + " AND ".join(where) if where else ""}
), ranked AS (
  SELECT g, duration_ms,
         ROW_NUMBER() OVER (PARTITION BY g ORDER BY duration_ms) AS rn,
         COUNT(*) OVER (PARTITION BY g) AS n
  FROM f WHERE duration_ms IS NOT NULL
), pct AS (
  SELECT g, MIN(CASE WHEN rn >= 0.5 * n THEN duration_ms END) AS p50,
            MIN(CASE WHEN rn >= 0.95 * n THEN duration_ms END) AS p95
  FROM ranked GROUP BY g
), agg AS (
  SELECT g, COUNT(*) AS requests,
         SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END) AS errors,
         CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens,
         CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens,
         SUM(cost) AS cost
  FROM f GROUP BY g
)
SELECT agg.g, agg.requests, agg.errors, agg.prompt_tokens, agg.completion_tokens, agg.cost, pct.p50, pct.p95
FROM agg LEFT JOIN pct ON pct.g {dialect.same} agg.g
ORDER BY {"agg.g" if group_by == "day" else "agg.requests DESC, agg.g"}"""
    return sql, params


def summary_rows(rows: list[Any]) -> list[SummaryRow]:
    return [
        {
            "group": g, "requests": int(n), "errors": int(e or 0),
            "prompt_tokens": None if pt is None else int(pt),
            "completion_tokens": None if ct is None else int(ct),
            "cost": None if cost is None else float(cost),
            "p50_ms": None if p50 is None else float(p50), "p95_ms": None if p95 is None else float(p95),
        }  # fmt: skip
        for g, n, e, pt, ct, cost, p50, p95 in rows
    ]


class Reads:
    """The read side both sinks share: the queries and their mapping are one; each sink says
    only how it runs a query (`_query`) and in which SQL `dialect`."""

    dialect: Dialect

    async def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    async def requests(
        self,
        limit: int = 20,
        before: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        key: str | None = None,
        outcome: str | None = None,
    ) -> Page:
        sql, params, limit = requests_query(limit, before, model, provider, key, outcome)
        return page_of(await self._query(sql, params), limit, from_row)

    async def get(self, id: str) -> UsageRecord | None:
        rows = await self._query(SELECT_RECORD + " WHERE id = ?", (id,))
        return from_row(rows[0]) if rows else None

    async def summary(
        self, start: float | None = None, end: float | None = None, group_by: str = "day"
    ) -> list[SummaryRow]:
        sql, params = summary_query(self.dialect, start, end, group_by)
        return summary_rows(await self._query(sql, params))
