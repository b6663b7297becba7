"""The gateway's own overhead on one request, defined once for the `x-llms-overhead-ms`
header and the metrics histogram: the time the request spent in the gateway minus the time
its upstream attempts took, where an attempt runs from the router handing it to the
provider until its answer is in (non-streamed) or its first content chunk is (streamed: the
commit point). So for a non-streamed request it is parsing, routing, mapping to and from a
dialect, encoding; for a stream, the same up to the first token (the forwarding of later
chunks overlaps the upstream's own pace and is not in it). A retry's back-off wait is
gateway time by this definition and shows up in it — rare, and visible when it happens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def overhead_seconds(elapsed: float, attempts: Iterable[Mapping[str, Any]]) -> float:
    """`elapsed` (request arrival to answer, or to first token for a stream) less the
    attempts' `seconds`; never below zero (clock granularity)."""
    spent = elapsed
    for a in attempts:
        spent -= a["seconds"]
    return spent if spent > 0.0 else 0.0
