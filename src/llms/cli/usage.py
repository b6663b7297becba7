"""`llms usage [--since 7d] [--by model|provider|day|key]`: the ledger's summary as a terminal
table — requests, errors, tokens, cost and latency per group, read from the same database
the server writes (SQLite by default, PostgreSQL when configured)."""

from __future__ import annotations

import re
import time
from typing import Any, TextIO

from .request import UsageError

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
GROUPS = ("day", "model", "provider", "key")
COLUMNS = (
    ("group", "", "<"),
    ("requests", "requests", ">"),
    ("errors", "errors", ">"),
    ("prompt_tokens", "in tokens", ">"),
    ("completion_tokens", "out tokens", ">"),
    ("cost", "cost $", ">"),
    ("p50_ms", "p50 ms", ">"),
    ("p95_ms", "p95 ms", ">"),
)


def since_seconds(text: str | None, now: float | None = None) -> float | None:
    """`7d`, `24h`, `30m`, `2w` → unix seconds that long ago (None: all time)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text)
    if not m:
        raise UsageError(f"--since {text!r}: expected a number and a unit (m, h, d, w), e.g. 7d")
    return (now if now is not None else time.time()) - float(m.group(1)) * UNITS[m.group(2)]


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-" if key != "group" else "(none)"
    if key == "cost":
        return f"{value:.6f}"
    if key.endswith("_ms"):
        return f"{value:.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(rows: list[dict[str, Any]], by: str, out: TextIO) -> None:
    """An aligned plain-text table, with a total line when there is more than one group."""
    if not rows:
        print("no requests recorded in that period", file=out)
        return
    header = [title or by for _, title, _ in COLUMNS]
    body = [[_cell(key, row.get(key)) for key, _, _ in COLUMNS] for row in rows]
    if len(rows) > 1:
        body.append(["total", *(_cell(k, _total(rows, k)) for k, _, _ in COLUMNS[1:6]), "", ""])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(COLUMNS))]
    for line in [header, *body]:
        cells = [f"{cell:{align}{w}}" for cell, (_, _, align), w in zip(line, COLUMNS, widths, strict=True)]
        print("  ".join(cells).rstrip(), file=out)


def _total(rows: list[dict[str, Any]], key: str) -> Any:
    known = [row[key] for row in rows if row.get(key) is not None]
    return sum(known) if known else None


async def show_usage(config_path: str | None, since: str | None, by: str, out: TextIO) -> int:
    from ..app import usage_table

    if by not in GROUPS:
        raise UsageError(f"--by {by!r}: expected one of {', '.join(GROUPS)}")
    rows = await usage_table(config_path, since_seconds(since), by)
    if rows is None:
        raise UsageError('the usage ledger is off ("usage": false in llms.json)')
    render(rows, by, out)
    return 0
