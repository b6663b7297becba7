"""One fault at a time at the first provider of a pair (the second is healthy unless said
otherwise), through the real gateway process, streamed and not. Every request must end as
a complete, exact answer or a well-formed error; which of the two is allowed depends on
whether the fault came before the stream's commit point (then failover must hide it) or
after (then an in-band error, never a clean end)."""

from __future__ import annotations

import pytest

from tests import fake_upstream as fu

from . import faults as f
from . import ledger
from .client import ANSWERED, ERRORED
from .conftest import many

ONLY_ANSWERS = frozenset({ANSWERED})
IN_BAND = frozenset({ERRORED})
# After the commit point the first requests must error in-band; once the breaker has
# opened, the healthy fallback answers instead — both are correct, a clean cut is not.
IN_BAND_OR_ANSWER = frozenset({ANSWERED, ERRORED})

CASES = [
    # model (a provider pair of its own, so breakers do not carry over), fault at the first
    # provider, streamed?, requests, allowed outcomes, in-band error text
    ("reset-before-headers", fu.reset, True, 6, ONLY_ANSWERS, None),
    ("reset-before-headers-plain", fu.reset, False, 6, ONLY_ANSWERS, None),
    ("hang-before-headers", lambda: fu.hang(30), True, 4, ONLY_ANSWERS, None),
    ("hang-before-headers-plain", lambda: fu.hang(30), False, 4, ONLY_ANSWERS, None),
    ("hang-after-headers", lambda: f.silent_after(0), True, 4, ONLY_ANSWERS, None),
    ("comments-only", lambda: f.silent_after(0, comments=True), True, 4, ONLY_ANSWERS, None),
    ("slow-drip", lambda: f.echo(delay=0.3), True, 4, ONLY_ANSWERS, None),
    ("reset-mid-stream", lambda: f.cut_after(2), True, 6, IN_BAND_OR_ANSWER, "connection closed"),
    ("stall-mid-stream", lambda: f.silent_after(2), True, 4, IN_BAND_OR_ANSWER, "stalled"),
    ("ends-without-done", lambda: f.ends_early(2), True, 6, IN_BAND_OR_ANSWER, "ended before the answer"),
    ("malformed-sse-early", lambda: f.garbage_after(0), True, 6, ONLY_ANSWERS, None),
    ("malformed-sse-late", lambda: f.garbage_after(2), True, 6, IN_BAND_OR_ANSWER, "not valid JSON"),
    ("malformed-json", f.malformed_json, False, 6, ONLY_ANSWERS, None),
    ("429-no-retry-after", lambda: f.status(429), True, 8, ONLY_ANSWERS, None),
    ("429-no-retry-after-plain", lambda: f.status(429), False, 8, ONLY_ANSWERS, None),
    ("oversized-chunk", lambda: f.echo(size=4_000_000), True, 3, ONLY_ANSWERS, None),
    ("endless-line", lambda: f.endless_line(20), True, 1, ONLY_ANSWERS, None),
]


@pytest.mark.parametrize(
    ("name", "fault", "stream", "count", "allowed", "error_text"),
    CASES,
    ids=[c[0] for c in CASES],
)
async def test_fault_is_hidden_or_reported(fault_gateway, upstream, name, fault, stream, count, allowed, error_text):
    counter = f.Counter()
    upstream.on(f"{name}-a", name, f.counted(counter, fault()))
    upstream.on(f"{name}-b", name, f.echo())
    kw = {"content_size": 1_000_000} if name == "oversized-chunk" else {}
    outcomes = await many(fault_gateway, name, count, stream=stream, **kw)
    row = ledger.record(name, outcomes, faults=counter.faults, allowed=allowed)
    assert row.lost == 0, row.lost_details
    assert counter.faults >= 1
    for o in outcomes:
        if o.kind == ERRORED:
            assert o.status == 200 and error_text in o.error["message"], o  # in-band, after the commit point
            assert o.text, "an in-band error comes after content, never instead of failover"
    if allowed == IN_BAND_OR_ANSWER:
        assert any(o.kind == ERRORED for o in outcomes), "the first requests must see the in-band error"
