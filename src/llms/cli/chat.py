"""`llms "prompt"`: one chat request through the same router, failover and providers the
server runs, in this process. The answer streams to stdout as it arrives; a one-line usage
summary (model, provider, tokens, cost, time) goes to stderr.

On a terminal, reasoning text is shown dimmed before the answer; into a pipe or a file only
the answer is written, with no control codes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, TextIO

from ..core.accumulate import StreamAccumulator
from ..core.errors import GatewayError
from ..core.types import RequestRecord

DIM, RESET = "\x1b[2m", "\x1b[0m"


@dataclass(slots=True)
class Output:
    """Where the answer and the summary go, and whether each is a terminal."""

    out: TextIO
    err: TextIO
    out_tty: bool
    err_tty: bool
    quiet: bool = False


class Printer:
    """Writes each delta as it arrives and remembers whether the last thing written ended a line."""

    def __init__(self, output: Output) -> None:
        self.o = output
        self.at_line_start = True
        self.thinking = False

    def delta(self, delta: dict[str, Any]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str) and self.o.out_tty:
            self._write((DIM if not self.thinking else "") + reasoning)
            self.thinking = True
        content = delta.get("content")
        if content:
            if self.thinking:
                self._write(RESET + ("\n" if not self.at_line_start else ""))
                self.thinking = False
            self._write(content)

    def end(self) -> None:
        if self.thinking:
            self._write(RESET)
            self.thinking = False
        if not self.at_line_start:
            self._write("\n")

    def _write(self, text: str) -> None:
        self.o.out.write(text)
        self.o.out.flush()
        self.at_line_start = text.endswith("\n")


async def run_chat(router: Any, request: dict[str, Any], output: Output, *, raw: bool) -> int:
    """Send `request`; print the answer (or, with `raw`, the whole JSON). Returns the exit code."""
    attempt = RequestRecord("cli", model=request["model"], started=time.perf_counter(), created=time.time())
    if raw or request.get("stream") is False:
        request["stream"] = False
        result = await router.chat(request, attempt)
        if raw:
            print(json.dumps(result, indent=2, ensure_ascii=False), file=output.out, flush=True)
        else:
            printer = Printer(output)
            for choice in result.get("choices") or []:
                printer.delta(choice.get("message") or {})
            printer.end()
        summary(output, attempt, result.get("usage"))
        return 0
    request["stream"] = True
    request["stream_options"] = {**(request.get("stream_options") or {}), "include_usage": True}
    stream = await router.open_stream(request, attempt)
    printer, acc = Printer(output), StreamAccumulator()
    try:
        async for chunk in stream:
            acc.add(chunk.data)
            for choice in chunk.data.get("choices") or ():
                if choice.get("index", 0) == 0:
                    printer.delta(choice.get("delta") or {})
    except GatewayError:
        printer.end()
        raise
    finally:
        await stream.aclose()
    printer.end()
    summary(output, attempt, acc.usage)
    return 0


def summary(output: Output, attempt: RequestRecord, usage: dict[str, Any] | None) -> None:
    """`kimi-k2 · groq (moonshotai/kimi-k2-instruct) · 12 in, 34 out tokens · $0.000081 · 1.24 s`"""
    if output.quiet:
        return
    served = attempt.provider + (f" ({attempt.provider_model})" if attempt.provider_model != attempt.model else "")
    parts = [attempt.model, served]
    if len(attempt.tried) > 1:
        parts.append("tried " + ", ".join(attempt.tried))
    if usage:
        parts.append(f"{usage.get('prompt_tokens', 0)} in, {usage.get('completion_tokens', 0)} out tokens")
    cost = cost_of(attempt.pricing, usage)
    if cost is not None:
        parts.append(f"${cost:.6f}")
    parts.append(f"{time.perf_counter() - attempt.started:.2f} s")
    line = " · ".join(parts)
    print(f"{DIM}{line}{RESET}" if output.err_tty else line, file=output.err, flush=True)


def cost_of(pricing: str | None, usage: dict[str, Any] | None) -> float | None:
    """llms.py's pricing is "input/output" in dollars per token."""
    if not pricing or not usage:
        return None
    try:
        price_in, price_out = (float(p) for p in pricing.split("/", 1))
    except ValueError:
        return None
    return price_in * usage.get("prompt_tokens", 0) + price_out * usage.get("completion_tokens", 0)
