"""`LlamaCppProvider`: a GGUF model run in-process by llama.cpp (xllamacpp's prebuilt wheels,
or llama-cpp-python; see `runtimes`), so the gateway answers with no key and no network.
Optional: it needs the `local` extra; without it the factory raises `ProviderUnavailable` and
the gateway skips the entry with an install hint.

The model's own chat template (GGUF metadata) formats the messages; chunks are OpenAI
`chat.completion.chunk`s and travel the same SSE path as every provider's. A non-streamed
call is the same stream folded into one `chat.completion`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ...core.accumulate import StreamAccumulator
from ...core.errors import InvalidRequest, UpstreamError, UpstreamStatusError, UpstreamTimeout
from ...core.types import Chunk, ProviderConfig
from ..base import Provider
from ..checks import request_mapping
from ..native import max_output_tokens, wants_usage
from .settings import LocalSettings, bundled_model, parse_settings, require_runtime
from .worker import END, Job, ModelWorker

DEFAULT_ALIAS = "smollm2"
# OpenAI (and llama.cpp) sampling fields passed to `create_chat_completion` as they are.
NUMBERS = ("temperature", "top_p", "top_k", "min_p", "typical_p", "presence_penalty", "frequency_penalty")
PASSED = (*NUMBERS, "repeat_penalty", "seed", "stop", "response_format", "tools", "tool_choice")
MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")


class LlamaCppProvider(Provider):
    supports_images = False
    supports_tools = False  # llama-cpp-python can, small models rarely do it well

    def __init__(self, config: ProviderConfig) -> None:
        self.settings: LocalSettings = parse_settings(config.extra)  # a typo is reported even without the extra
        require_runtime(self.settings.runtime)
        super().__init__(config)
        if not self.models:
            default = self.settings.model_path == bundled_model()
            self.models = {DEFAULT_ALIAS if default else self.settings.model_path.stem: self.settings.model_path.stem}
        self.worker = ModelWorker(config.name, self.settings)

    async def start(self) -> None:
        if self.settings.load == "start":
            await self.worker.load()

    def info(self) -> dict[str, Any]:
        """Live facts for `GET /status`: loaded or not, queue, memory."""
        return dict(self.worker.info)

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        acc = StreamAccumulator()
        async for chunk in self._generate(request, alias, include_usage=True):
            acc.add(chunk.data)
        return acc.result()

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        include_usage = wants_usage(request)
        async for chunk in self._generate(request, alias, include_usage=include_usage):
            yield chunk

    async def aclose(self) -> None:
        await self.worker.aclose()
        await super().aclose()

    async def _generate(self, request: dict[str, Any], alias: str, *, include_usage: bool) -> AsyncIterator[Chunk]:
        job = self.worker.submit(generation_args(self.with_defaults(request, alias)))
        last: dict[str, Any] | None = None
        try:
            while (item := await self._next(job, first=last is None)) is not END:
                if isinstance(item, BaseException):
                    raise self._error(item)
                last = item
                yield Chunk(item)
            if include_usage and last is not None:
                yield Chunk({**last, "choices": [], "usage": job.usage()})
        finally:
            job.stop.set()  # the client went away, or we are done: the worker stops at the next token

    async def _next(self, job: Job, *, first: bool) -> Any:
        """The job's next item, waiting at most `first_byte` (queue, load and prompt included)
        for the first and `idle` for each next one."""
        wait = self.timeouts.first_byte if first else self.timeouts.idle
        try:
            async with asyncio.timeout(wait):
                return await job.queue.get()
        except TimeoutError:
            what = "a first token" if first else "the next token"
            raise UpstreamTimeout(f"no {what} from the local model within {wait:g}s", provider=self.name) from None

    def _error(self, error: BaseException) -> UpstreamError:
        """llama-cpp-python's failures as ours, by type: a bad request (e.g. the prompt is
        longer than `n_ctx`) is a 400; a model that cannot load or crashes may fail over."""
        if isinstance(error, UpstreamError):
            return error
        if isinstance(error, (ValueError, TypeError)):
            return UpstreamStatusError(
                str(error), provider=self.name, upstream_status=400, upstream_type="invalid_request_error"
            )
        return UpstreamError(f"{type(error).__name__}: {error}", provider=self.name)


# -- request mapping ---------------------------------------------------------------------


@request_mapping("local model")
def generation_args(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as `Llama.create_chat_completion` keyword arguments. Fields it
    has no use for (`user`, `store`, `metadata`, …) are left out."""
    if body.get("n") not in (None, 1):
        raise InvalidRequest("the local model makes one choice per request: `n` must be 1", param="n")
    for key in NUMBERS:
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidRequest(f"`{key}` must be a number", param=key)
    args = {key: body[key] for key in PASSED if body.get(key) is not None}
    max_tokens = max_output_tokens(body)  # a positive whole number: checked by @request_mapping
    if max_tokens is not None:
        args["max_tokens"] = max_tokens
    if isinstance(body.get("logit_bias"), dict):
        try:
            args["logit_bias"] = {int(k): float(v) for k, v in body["logit_bias"].items()}
        except (TypeError, ValueError):
            raise InvalidRequest("`logit_bias` maps token ids to numbers", param="logit_bias") from None
    args["messages"] = [plain_message(m, i) for i, m in enumerate(body["messages"])]
    args["model"] = body["model"]
    return args


def plain_message(message: dict[str, Any], index: int) -> dict[str, Any]:
    """A message whose content is a string, as chat templates expect (text parts joined)."""
    out = {k: message[k] for k in MESSAGE_KEYS if k in message}
    content = message.get("content")
    if isinstance(content, list):
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in ("text", "input_text"):
                raise InvalidRequest(
                    f"the local model reads text only (messages[{index}] has a {kind!r} part)",
                    param=f"messages[{index}].content",
                )
            texts.append(part.get("text") or "")
        content = "".join(texts)
    out["content"] = content if isinstance(content, str) else ""
    return out


__all__ = ["LlamaCppProvider", "generation_args", "plain_message"]
