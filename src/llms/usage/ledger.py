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
        """(Positional arguments, in `UsageRecord`'s field order: this runs once per request on
        the event loop, and keywords cost a third of it.)"""
        usage = r.usage
        attempts = r.attempts
        served = bool(attempts) and attempts[-1]["status"] == 200
        prompt = completion = cached = reasoning = None
        if usage:
            prompt, completion = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
            details = usage.get("prompt_tokens_details")
            if details:
                cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
            details = usage.get("completion_tokens_details")
            if details:
                reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
        first = r.first_chunk_at
        started = r.started
        return UsageRecord(
            r.id,
            r.created,
            r.api,
            r.model,
            r.provider if served else None,
            r.provider_model if served else None,
            r.stream,
            r.status,
            r.outcome,  # type: ignore[arg-type]  # (the pipeline sets only OUTCOMES)
            attempts,  # (AttemptFact is usage.Attempt's shape; the record is done with it)
            prompt,
            completion,
            cached,
            reasoning,
            self.cost(r.pricing, prompt, completion) if served else None,
            (first - started) * 1000 if first is not None and r.stream else None,
            (now - started) * 1000,
            r.key,
            r.content,
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
    return value if type(value) is int else None


