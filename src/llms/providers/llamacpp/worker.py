"""The model behind a `LlamaCppProvider`: loaded once (on the first request or at start) and
run on one worker thread, so the event loop keeps serving while it generates. One generation
at a time; at most `max_queue` more wait, the next is refused (429 with Retry-After).

Chunks cross back to the loop through an asyncio queue (`call_soon_threadsafe`). A stop
flag, checked for every token, ends a generation whose client went away: the worker stops
reading the stream, and the logits hook forces the end-of-generation token."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...core.errors import UpstreamStatusError
from . import runtimes
from .settings import LocalSettings, require_runtime

END = object()  # the last item of every job's queue


class ModelLoadError(Exception):
    """The GGUF file could not be loaded (kept: later requests fail at once)."""


class Job:
    """One generation: its arguments, its stop flag, and the queue its chunks arrive on."""

    def __init__(self, kwargs: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        self.kwargs = kwargs
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.stop = threading.Event()
        self.eos = -1
        self.prompt_tokens = 0
        self.sampled = 0
        self.finish_reason: str | None = None
        self.reported_usage: dict[str, int] | None = None  # when the runtime counts for us

    def emit(self, item: Any) -> None:
        """Hand one item to the waiting coroutine (called on the worker thread)."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.stop.set()

    def on_token(self, input_ids: Any, scores: Any) -> Any:
        """llama-cpp-python's logits hook, called once per sampled token: counts tokens and,
        once stopped, leaves the end-of-generation token as the only choice."""
        if self.sampled == 0:
            self.prompt_tokens = len(input_ids)
        self.sampled += 1
        if self.stop.is_set() and 0 <= self.eos < len(scores):
            scores[:] = -math.inf
            scores[self.eos] = 0.0
        return scores

    def usage(self) -> dict[str, int]:
        """Token counts (the end-of-generation token itself is not counted)."""
        if self.reported_usage is not None:
            return dict(self.reported_usage)
        completion = max(0, self.sampled - (1 if self.finish_reason == "stop" else 0))
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


class ModelWorker:
    """Owns the loaded model (a `runtimes.Runtime`); every call into it happens on one thread."""

    def __init__(self, provider: str, settings: LocalSettings) -> None:
        self.provider = provider
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llms-{provider}")
        self._model: runtimes.Runtime | None = None
        self._load_error: str | None = None
        self._lock = threading.Lock()
        self._jobs: set[Job] = set()
        self._closing = False
        self._seconds_per_job = 2.0
        self.info: dict[str, Any] = {
            "model_path": str(settings.model_path),
            "model_mb": round(settings.model_path.stat().st_size / 2**20, 1),
            "n_ctx": settings.n_ctx,
            "load": settings.load,
            "loaded": False,
            "generating": 0,
            "queued": 0,
            "max_queue": settings.max_queue,
            "generations": 0,
            "stopped": 0,  # generations ended early because their client went away
        }

    # -- the event loop's side -----------------------------------------------------------

    def submit(self, kwargs: dict[str, Any]) -> Job:
        """Queue one generation, or raise a 429 when `max_queue` requests already wait."""
        job = Job(kwargs, asyncio.get_running_loop())
        with self._lock:
            waiting = len(self._jobs) - 1
            if waiting >= self.settings.max_queue:
                raise UpstreamStatusError(
                    f"the local model is busy (1 generating, {waiting} waiting, max_queue {self.settings.max_queue})",
                    provider=self.provider,
                    upstream_status=429,
                    upstream_type="rate_limit_error",
                    retry_after=max(1.0, math.ceil(self._seconds_per_job * (waiting + 1))),
                )
            self._jobs.add(job)
            self._count()
        self._executor.submit(self._run, job)
        return job

    async def load(self) -> None:
        """Load the model now (for `"load": "start"`), on the worker thread."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_loaded)

    async def aclose(self) -> None:
        """Stop every job, wait for the worker thread, free the model."""
        self._closing = True
        with self._lock:
            for job in self._jobs:
                job.stop.set()
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    # -- the worker thread's side --------------------------------------------------------

    def _run(self, job: Job) -> None:
        started = time.monotonic()
        try:
            if not (job.stop.is_set() or self._closing):  # else its client left while it waited
                self._generate(job)
        except BaseException as e:  # every failure travels to the waiting coroutine
            job.emit(e)
        finally:
            self.info["rss_mb"] = rss_mb()
            with self._lock:
                self._jobs.discard(job)
                self._count()
                self.info["generations"] += 1
                self.info["stopped"] += job.stop.is_set()
                self._seconds_per_job = 0.8 * self._seconds_per_job + 0.2 * (time.monotonic() - started)
            job.emit(END)

    def _generate(self, job: Job) -> None:
        self._ensure_loaded().generate(job)

    def _ensure_loaded(self) -> runtimes.Runtime:
        if self._model is not None:
            return self._model
        if self._load_error is not None:
            raise ModelLoadError(self._load_error)
        s = self.settings
        before, started = rss_mb(), time.perf_counter()
        try:
            self._model = runtimes.load(require_runtime(s.runtime), s)
        except Exception as e:
            self._load_error = f"cannot load {s.model_path}: {type(e).__name__}: {e}"
            self.info["load_error"] = self._load_error
            raise ModelLoadError(self._load_error) from e
        after = rss_mb()
        self.info.update(
            loaded=True,
            load_seconds=round(time.perf_counter() - started, 2),
            rss_before_load_mb=before,
            rss_after_load_mb=after,
            rss_load_delta_mb=round(after - before, 1),
            rss_mb=after,
            **self._model.facts,
        )
        return self._model

    def _count(self) -> None:
        self.info["generating"] = min(1, len(self._jobs))
        self.info["queued"] = max(0, len(self._jobs) - 1)

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        if self._model is not None:
            self._model.close()
            self._model = None
            self.info["loaded"] = False


def rss_mb() -> float:
    """This process's resident memory in MiB (Linux: now; elsewhere: the peak so far)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        import resource  # not on Windows; only needed where /proc is missing

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
