"""One time budget per request, across every retry and failover: set when the router takes
the request (the configured `budget`, lowered per request by the `x-llms-timeout` header;
`Router.chat`/`open_stream` build the `core.deadline.Deadline` inline), carried to the
transport in a context variable, checked here before every backoff sleep.
When it runs out the client gets 504 naming what was tried."""

from __future__ import annotations

import asyncio

from ..core.deadline import Deadline
from ..core.errors import GatewayError, UpstreamError

# Do not start a wait that would leave less than this for the attempt after it.
MIN_ATTEMPT = 0.1


def spent(deadline: Deadline) -> bool:
    return asyncio.get_running_loop().time() >= deadline.at - 0.005


def fits(deadline: Deadline, delay: float) -> bool:
    """True when waiting `delay` seconds still leaves room for another attempt."""
    return asyncio.get_running_loop().time() + delay + MIN_ATTEMPT < deadline.at


class BudgetExceeded(GatewayError):
    """504: the request's time budget ran out before any provider answered."""

    status = 504
    type = "timeout"
    code = "request_timeout"

    def __init__(self, model: str, deadline: Deadline, tried: list[UpstreamError], skipped: list[str]) -> None:
        parts = [e.short() for e in tried] + skipped
        what = "; ".join(parts) if parts else "nothing could be tried"
        super().__init__(
            f"The request's time budget of {deadline.seconds:g}s ran out for model '{model}'. Tried: {what}"
        )
        self.errors = tried
