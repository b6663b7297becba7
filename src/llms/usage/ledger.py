"""From the pipeline's request record (`core.types.RequestRecord`) to the ledger's
`UsageRecord`, queued on the sink: what `llms.app` injects as the `record` service. Runs on the
event loop at the end of each request, so it only copies fields and appends to a queue."""

from __future__ import annotations

import logging
import time
from typing import Any

from ..core.types import RequestRecord
from .record import UsageRecord
from .sink import Sink

log = logging.getLogger("llms.usage")
API = "chat.completions"


class Ledger:
    """`record(r)` turns a finished request into one `UsageRecord` and submits it."""

    __slots__ = ("sink", "api", "_prices")

    def __init__(self, sink: Sink, api: str = API) -> None:
        self.sink = sink
        self.api = api
        self._prices: dict[str, tuple[float, float] | None] = {}

    def record(self, r: RequestRecord) -> None:
        self.sink.submit(self.usage_record(r, time.perf_counter()))

    def usage_record(self, r: RequestRecord, now: float) -> UsageRecord:
        usage = r.usage
        served = bool(r.attempts) and r.attempts[-1]["status"] == 200
        prompt = completion = cached = reasoning = None
        if usage:
            prompt, completion = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
            details = usage.get("prompt_tokens_details")
            cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
            details = usage.get("completion_tokens_details")
            reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
        first = r.first_chunk_at
        return UsageRecord(
            id=r.id,
            created=r.created,
            api=self.api,
            model=r.model,
            provider=r.provider if served else None,
            provider_model=r.provider_model if served else None,
            stream=r.stream,
            status=r.status,
            outcome=r.outcome,  # type: ignore[arg-type]  # (the pipeline sets only OUTCOMES)
            attempts=list(r.attempts),  # (AttemptFact and usage.Attempt: the same TypedDict shape)
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            reasoning_tokens=reasoning,
            cost=self.cost(r.pricing, prompt, completion) if served else None,
            ttft_ms=round((first - r.started) * 1000, 3) if first is not None and r.stream else None,
            duration_ms=round((now - r.started) * 1000, 3),
            content=r.content,
        )

    def cost(self, pricing: str | None, prompt: int | None, completion: int | None) -> float | None:
        """USD from llms.json's per-token `"input/output"` prices; None when either is unknown."""
        if pricing is None or prompt is None or completion is None:
            return None
        if pricing in self._prices:
            prices = self._prices[pricing]
        else:
            prices = self._prices[pricing] = _parse_price(pricing)
        if prices is None:
            return None
        return prompt * prices[0] + completion * prices[1]


def _parse_price(pricing: str) -> tuple[float, float] | None:
    try:
        inp, out = pricing.split("/")
        return float(inp), float(out)
    except ValueError:
        log.warning("pricing %r is not two numbers: costs stay unknown", pricing)
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


