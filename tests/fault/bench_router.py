"""What the reliability layer costs on the happy path, per request, in-process: the router
with retries, breakers, a concurrency cap and the budget on, against the same router with
them off, and against the issue-2 router (from git, when the history is there) — with a
provider that answers at once, so only the routing code is timed. Run by hand:

    python -m tests.fault.bench_router            # ~20 s; interleaved rounds, median per variant
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from llms.core.types import Chunk, ProviderConfig, RequestRecord
from llms.providers.base import Provider
from llms.router import BreakerPolicy, ProviderPolicy, RetryPolicy, Router, RouterPolicy

ISSUE_2_ROUTER = "24b4b5c"  # the last commit before the reliability layer
CHUNKS = [Chunk({"choices": [{"index": 0, "delta": {"content": w}}]}, b"{}") for w in ("a", "b", "c", "d")]
CHUNKS.append(Chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, b"{}"))
ANSWER = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}


class Instant(Provider):
    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        return ANSWER

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        for chunk in CHUNKS:
            yield chunk


def providers() -> list[Provider]:
    return [Instant(ProviderConfig(name=n, type="x", models={"m": "m"})) for n in ("first", "second")]


def old_router() -> Any:
    """The issue-2 Router class, loaded from git history (None when unavailable)."""
    try:
        src = subprocess.run(
            ["git", "show", f"{ISSUE_2_ROUTER}:src/llms/router/failover.py"], capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    src = src.replace("from ..", "from llms.")
    path = Path(tempfile.mkdtemp()) / "old_failover.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_failover", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.Router(providers())


async def per_request_us(router: Any, n: int, stream: bool) -> float:
    request = {"model": "m", "messages": []}
    start = time.perf_counter()
    for _ in range(n):
        attempt = RequestRecord("req_bench", model="m")
        if stream:
            s = await router.open_stream(request, attempt)
            async for _chunk in s:
                pass
            await s.aclose()
        else:
            await router.chat(request, attempt)
    return (time.perf_counter() - start) / n * 1e6


async def main(rounds: int = 15, n: int = 4000) -> None:
    off = ProviderPolicy(RetryPolicy(max=0), BreakerPolicy(enabled=False), 0)
    on = ProviderPolicy(RetryPolicy(), BreakerPolicy(), 64)
    variants = {
        "reliability on (retries, breakers, cap 64)": Router(providers(), RouterPolicy(default=on)),
        "reliability off (retries 0, no breaker)": Router(providers(), RouterPolicy(default=off)),
    }
    old = old_router()
    if old is not None:
        variants[f"issue-2 router ({ISSUE_2_ROUTER})"] = old
    for stream in (False, True):
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):  # interleaved, so machine noise hits every variant alike
            for name, router in variants.items():
                samples[name].append(await per_request_us(router, n, stream))
        print(f"\n{'streamed (5 chunks)' if stream else 'non-streamed'}: µs per request, median of {rounds} rounds")
        for name, values in samples.items():
            print(f"  {name:<46} {statistics.median(values):7.2f}  (min {min(values):.2f})")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
