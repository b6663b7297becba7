"""The fault suite's tally: per scenario, requests sent, faults the upstream injected, and
how each request ended. Printed as a table at the end of the run (see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .client import ANSWERED, ERRORED, Outcome


@dataclass
class Row:
    requests: int = 0
    faults: int = 0
    answered: int = 0
    errored: int = 0
    lost: int = 0  # every request that did not end as allowed …
    hung: int = 0  # … of which: no complete response within the client's deadline
    lost_details: list[str] = field(default_factory=list)


ROWS: dict[str, Row] = {}


def record(
    scenario: str,
    outcomes: Iterable[Outcome],
    *,
    faults: int,
    allowed: frozenset[str] = frozenset({ANSWERED, ERRORED}),
) -> Row:
    """Count the outcomes; one that is not in `allowed` (or is `lost`) counts as lost."""
    row = ROWS.setdefault(scenario, Row())
    row.faults += faults
    for o in outcomes:
        row.requests += 1
        if o.kind == ANSWERED and ANSWERED in allowed:
            row.answered += 1
        elif o.kind == ERRORED and ERRORED in allowed:
            row.errored += 1
        else:
            row.lost += 1
            row.hung += o.detail.startswith("hung")
            row.lost_details.append(f"{o.kind} {o.status}: {o.detail}")
    return row


def table() -> list[str]:
    head = f"{'scenario':<34}{'requests':>9}{'faults':>8}{'answered':>10}{'errored':>9}{'lost':>6}{'hung':>6}"
    lines = [head, "-" * len(head)]
    total = Row()
    for name, r in [*ROWS.items(), ("total", total)]:
        if name == "total":
            lines.append("-" * len(head))
        lines.append(f"{name:<34}{r.requests:>9}{r.faults:>8}{r.answered:>10}{r.errored:>9}{r.lost:>6}{r.hung:>6}")
        if r is not total:
            for attr in ("requests", "faults", "answered", "errored", "lost", "hung"):
                setattr(total, attr, getattr(total, attr) + getattr(r, attr))
    lines.append("answered: complete and exact; errored: a well-formed error (HTTP envelope or in-band event);")
    lines.append("lost: anything else (truncated as success, wrong or malformed bytes, cut off, hung);")
    lines.append("hung: no complete response within the client's deadline (counted in lost too)")
    for name, r in ROWS.items():
        for d in r.lost_details[:5]:
            lines.append(f"  lost in {name}: {d}")
    return lines
