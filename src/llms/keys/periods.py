"""Time windows the limits count in. Requests and tokens per minute count in fixed windows
aligned to the UTC minute (one counter per key per minute: exact, cheap, and the same in
memory and in Redis; the price is that a client may use up to twice its rate across a minute
boundary, which a budget of requests per *minute* tolerates). Budgets count per UTC calendar
day, ISO week (from Monday) or month."""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta

WINDOW = 60.0


def minute(now: float) -> int:
    """The number of the current rate window."""
    return int(now // WINDOW)


def window_reset(now: float) -> float:
    """Seconds until the current rate window ends."""
    return WINDOW - (now % WINDOW)


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """(start, end) in unix seconds of the budget period holding `now`."""
    t = datetime.fromtimestamp(now, UTC)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    else:
        raise ValueError(f"unknown budget period {period!r}")
    return start.timestamp(), end.timestamp()


# per kind, the period computed last: (start, end, id). Every admission of a key with a budget
# asks for its period; a datetime computation each time would be most of the limiter's cost.
_current: dict[str, tuple[float, float, str]] = {}


def current_period(period: str, now: float) -> tuple[float, float, str]:
    """(start, end, id) of the budget period holding `now`, cached until it ends."""
    found = _current.get(period)
    if found is None or not found[0] <= now < found[1]:
        start, end = period_bounds(period, now)
        found = (start, end, f"{period}:{datetime.fromtimestamp(start, UTC).date().isoformat()}")
        _current[period] = found
    return found


def period_id(period: str, now: float) -> str:
    """A name for the period holding `now` (`day:2026-12-03`), part of the counter's name."""
    return current_period(period, now)[2]


_texts: dict[int, str] = {}


def reset_text(seconds: float) -> str:
    """OpenAI's `x-ratelimit-reset-*` duration format: `1s`, `6m0s`, `1h2m3s`, `250ms`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    s = math.ceil(seconds)
    text = _texts.get(s)
    if text is None:
        text = _duration(s)
        if len(_texts) < 10_000:  # (a budget's reset can be weeks away: bounded)
            _texts[s] = text
    return text


def _duration(s: int) -> str:
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"
