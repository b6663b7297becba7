"""The `anthropic` dialect (`AnthropicProvider`): Anthropic's Messages API (`POST /v1/messages`,
`x-api-key` + `anthropic-version`), translated to and from OpenAI chat shapes, plain and streamed.

Choices made where the two APIs differ (the product wins over a literal mapping):
- `max_tokens` is required by Anthropic: the client's `max_completion_tokens`/`max_tokens`, else
  4096 (plus the thinking budget when thinking is on).
- `temperature` is clamped to Anthropic's 0–1 range; with thinking on, `temperature` and `top_k`
  are left out (Anthropic rejects them then).
- `reasoning_effort` low/medium/high → a thinking budget of 1024/4096/16384 tokens; thinking text
  comes back as `reasoning_content`. Thinking blocks are not replayed in later turns (OpenAI's
  shape has no place for their signature).
- `response_format` (json_object / json_schema) has no Messages API equivalent: it becomes a tool
  whose input schema is the requested one, which the model must call (the only tool it may call
  when the client sent no tools; any tool otherwise); its input comes back as the message's JSON
  `content` with `finish_reason` "stop". Thinking is off then (Anthropic refuses forced tool use
  with thinking).
- `seed`, `n`, `logprobs` and other OpenAI-only fields are not sent.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..core.errors import InvalidRequest, UpstreamConnectionError, UpstreamStatusError
from ..core.types import Chunk, Native, ProviderConfig
from . import anthropic_native
from .base import Provider, error_message
from .checks import encode_request, request_mapping
from .images import ImageFetcher
from .native import (
    ChunkFactory,
    completion,
    max_output_tokens,
    media_of,
    message_choice,
    new_completion_id,
    parts_of,
    status_error,
    stop_list,
    tool_arguments,
    tool_call,
    usage,
    wants_usage,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
THINKING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Anthropic error types → the HTTP status they stand for (used for errors inside a 200 stream).
JSON_TOOL = "llms_json_response"  # the tool that carries `response_format`
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_VERSIONED = re.compile(r"/v\d+$")


def messages_url(base_url: str) -> str:
    """base_url + /v1/messages (or + /messages when base_url already ends in /v<digits>)."""
    base = base_url.rstrip("/")
    return base + ("/messages" if _VERSIONED.search(base) else "/v1/messages")


class AnthropicProvider(Provider):
    #: inbound APIs this dialect serves natively (`core.types.Native`; anthropic_native.py)
    native_apis = frozenset({anthropic_native.API})

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.url = messages_url(config.base_url or DEFAULT_BASE_URL)
        headers = {"Content-Type": "application/json", "anthropic-version": API_VERSION, **config.headers}
        if config.api_key:
            headers["x-api-key"] = config.api_key
        self.headers = headers
        self.stream_headers = {**headers, "Accept": "text/event-stream"}
        self.images = ImageFetcher.from_config(self.name, config.extra.get("fetch_image_urls"))

    async def _prepare(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        req = self.with_defaults(request, alias)
        if self.images is not None:
            req = await self.images.inline(req)
        return req

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        if isinstance(request, Native) and request.api == anthropic_native.API:
            return await anthropic_native.chat(self, request, alias)
        req = await self._prepare(request, alias)
        body = encode_request(to_anthropic(req, stream=False))
        async with self.client.open("POST", self.url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.error(r.status, data, r.headers)
            answer = self.loads(data, "the answer")  # (inside `open()`: scrubbed there)
            if not isinstance(answer, dict) or not isinstance(answer.get("content"), list):
                raise self.protocol_error("the answer has no `content`")
        return from_anthropic(answer, req["model"], json_mode=json_tool(req) is not None)

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        if isinstance(request, Native) and request.api == anthropic_native.API:
            async for native in anthropic_native.stream(self, request, alias):
                yield native
            return
        req = await self._prepare(request, alias)
        body = encode_request(to_anthropic(req, stream=True))
        mapper = StreamMapper(self.name, req["model"], wants_usage(req), json_mode=json_tool(req) is not None)
        async with self.client.open(
            "POST", self.url, body=body, headers=self.stream_headers, timeouts=self.timeouts
        ) as r:
            if r.status >= 400:
                raise self.error(r.status, await r.read(), r.headers)
            async for data in self.sse_data(r):
                for chunk in mapper.feed(self.loads(data, "a stream event")):
                    yield Chunk(chunk)
        if not mapper.done:
            raise UpstreamConnectionError(
                "the stream ended before the answer was complete (no message_stop)", provider=self.name
            )

    async def count_tokens(self, body: dict[str, Any], alias: str) -> dict[str, Any]:
        return await anthropic_native.count_tokens(self, body, alias)

    def error(self, status: int, body: bytes, headers: Any = None) -> UpstreamStatusError:
        message, type_ = error_message(body)
        return status_error(self.name, status, message, type_, headers)


# -- request mapping -------------------------------------------------------------------------


@request_mapping("Anthropic")
def to_anthropic(req: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """An OpenAI chat request as a Messages API request."""
    system, messages = conversation(req.get("messages") or [])
    body: dict[str, Any] = {"model": req["model"], "messages": messages}
    limit = max_output_tokens(req)
    as_json = json_tool(req)
    budget = None if as_json else thinking_budget(req, limit)
    body["max_tokens"] = limit or (DEFAULT_MAX_TOKENS + (budget or 0))
    if system:
        body["system"] = system
    if budget:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    else:
        if isinstance(req.get("temperature"), (int, float)):
            body["temperature"] = min(max(float(req["temperature"]), 0.0), 1.0)
        if req.get("top_k") is not None:
            body["top_k"] = req["top_k"]
    if req.get("top_p") is not None:
        body["top_p"] = req["top_p"]
    stops = stop_list(req.get("stop"))
    if stops:
        body["stop_sequences"] = stops
    if req.get("tools"):
        body["tools"] = [_tool(t) for t in req["tools"] if t.get("type", "function") == "function"]
        choice = _tool_choice(req.get("tool_choice"), req.get("parallel_tool_calls"))
        if choice:
            body["tool_choice"] = choice
    if as_json:
        body["tool_choice"] = {"type": "any"} if body.get("tools") else {"type": "tool", "name": JSON_TOOL}
        body["tools"] = [*body.get("tools", ()), as_json]
    if isinstance(req.get("user"), str):
        body["metadata"] = {"user_id": req["user"]}
    if stream:
        body["stream"] = True
    return body


def json_tool(req: dict[str, Any]) -> dict[str, Any] | None:
    """The tool standing for `response_format`, or None when plain text was asked for."""
    fmt = req.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        spec = fmt.get("json_schema") or {}  # type: ignore[union-attr]
        schema = spec.get("schema") or {"type": "object"}
        about = spec.get("description") or f"Answer with JSON matching the {spec.get('name') or 'given'} schema."
        return {"name": JSON_TOOL, "description": about, "input_schema": schema}
    if kind == "json_object":
        return {"name": JSON_TOOL, "description": "Answer with a JSON object.", "input_schema": {"type": "object"}}
    return None


def thinking_budget(req: dict[str, Any], limit: int | None) -> int | None:
    """Tokens of extended thinking for `reasoning_effort`, kept below `max_tokens`."""
    budget = THINKING_BUDGETS.get(req.get("reasoning_effort") or "")
    if budget and limit is not None and limit <= budget:
        budget = limit - 1
    return budget if budget and budget >= MIN_THINKING_BUDGET else None


def conversation(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, messages): system/developer messages go to `system`; `tool` results
    become user `tool_result` blocks; consecutive same-role messages are merged (Anthropic
    requires user and assistant to alternate)."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend(_text_block(p) for p in parts_of(m.get("content")) if p.get("text"))
            continue
        if role == "user":
            role, blocks = "user", [_user_block(p) for p in parts_of(m.get("content")) if _has_value(p)]
        elif role == "assistant":
            blocks = _assistant_blocks(m)
        elif role == "tool":
            role, blocks = "user", [_tool_result(m)]
        else:
            raise InvalidRequest(f"messages[{i}].role {role!r} is not supported", param=f"messages[{i}].role")
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for m in out:  # Anthropic wants tool results ahead of any text in a user turn
        if m["role"] == "user":
            m["content"].sort(key=lambda b: b["type"] != "tool_result")
    return system, out


def _has_value(part: dict[str, Any]) -> bool:
    return part.get("type") not in ("text", None) or bool(part.get("text"))


def _text_block(part: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.get("text") or ""}
    if part.get("cache_control"):  # prompt caching, passed through when a client sets it
        block["cache_control"] = part["cache_control"]
    return block


def _user_block(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") in ("text", None):
        return _text_block(part)
    mime, data, url = media_of(part)
    if mime.startswith("audio/"):
        raise InvalidRequest("Anthropic models do not accept audio input", param="messages")
    kind = "document" if mime == "application/pdf" else "image"
    source = {"type": "url", "url": url} if url else {"type": "base64", "media_type": mime, "data": data}
    block: dict[str, Any] = {"type": kind, "source": source}
    if part.get("cache_control"):
        block["cache_control"] = part["cache_control"]
    return block


def _assistant_blocks(m: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [_text_block(p) for p in parts_of(m.get("content")) if p.get("text")]
    for call in m.get("tool_calls") or ():
        fn = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": tool_arguments(call)})
    return blocks


def _tool_result(m: dict[str, Any]) -> dict[str, Any]:
    content = m.get("content")
    if isinstance(content, list):
        content = [_user_block(p) for p in parts_of(content) if _has_value(p)]
    return {"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": content or ""}


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") or {}
    out: dict[str, Any] = {
        "name": fn.get("name"),
        "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
    }
    if fn.get("description"):
        out["description"] = fn["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice == "required":
        out: dict[str, Any] = {"type": "any"}
    elif choice == "none":
        out = {"type": "none"}
    elif isinstance(choice, dict):
        out = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    elif choice == "auto" or parallel is False:
        out = {"type": "auto"}
    else:
        return None
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


# -- response mapping ------------------------------------------------------------------------


def from_anthropic(data: dict[str, Any], model: str, *, json_mode: bool = False) -> dict[str, Any]:
    """A Messages API answer as a `chat.completion` (with `json_mode`, the JSON tool's input is
    the content)."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in data.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text") or "")
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
        elif kind == "tool_use" and json_mode and block.get("name") == JSON_TOOL:
            text.append(orjson.dumps(block.get("input") or {}).decode())
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id") or "", block.get("name") or "", block.get("input")))
    finish = STOP_REASONS.get(data.get("stop_reason") or "", "stop")
    if finish == "tool_calls" and not calls:  # only the JSON tool was called
        finish = "stop"
    choice = message_choice(0, "".join(text), "".join(reasoning), calls, finish)
    return completion(data.get("id") or new_completion_id(), data.get("model") or model, [choice], map_usage(data))


def map_usage(data: dict[str, Any]) -> dict[str, Any]:
    """Anthropic counts cache reads and writes apart from `input_tokens`; OpenAI's
    `prompt_tokens` includes them, with the cache reads as `cached_tokens`."""
    u = data.get("usage") or {}
    cached = u.get("cache_read_input_tokens") or 0
    prompt = (u.get("input_tokens") or 0) + (u.get("cache_creation_input_tokens") or 0) + cached
    return usage(prompt, u.get("output_tokens") or 0, cached=cached)


# -- stream mapping --------------------------------------------------------------------------


class StreamMapper:
    """Folds Messages API stream events into `chat.completion.chunk`s: text deltas → content,
    thinking deltas → reasoning_content, tool_use blocks and their `input_json_delta`s →
    OpenAI tool-call deltas (one index per tool call), `message_stop` → the finish chunk."""

    def __init__(self, provider: str, model: str, include_usage: bool, *, json_mode: bool = False) -> None:
        self.provider = provider
        self.json_mode = json_mode
        self.json_block: int | None = None  # the content block of the JSON tool, streamed as content
        self.chunks = ChunkFactory(new_completion_id(), model)
        self.include_usage = include_usage
        self.usage: dict[str, Any] = {}
        self.tool_index: dict[int, int] = {}  # content block index → OpenAI tool call index
        self.stop_reason: str | None = None
        self.done = False

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event.get("index", 0), event.get("delta") or {})
        if kind == "content_block_start":
            return self._block_start(event.get("index", 0), event.get("content_block") or {})
        if kind == "message_start":
            message = event.get("message") or {}
            self.chunks.id = message.get("id") or self.chunks.id
            self.chunks.model = message.get("model") or self.chunks.model
            self._add_usage(message.get("usage"))
            return [self.chunks.delta({"role": "assistant", "content": ""})]
        if kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self._add_usage(event.get("usage"))
            return []
        if kind == "message_stop":
            return self._finish()
        if kind == "error":
            err = event.get("error") or {}
            type_ = err.get("type") or "api_error"
            raise status_error(self.provider, ERROR_STATUS.get(type_, 500), err.get("message") or type_, type_)
        return []  # ping, content_block_stop, and event types added later

    def _block_start(self, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
        if block.get("type") == "tool_use" and self.json_mode and block.get("name") == JSON_TOOL:
            self.json_block = index
            return []
        if block.get("type") == "tool_use":
            n = self.tool_index[index] = len(self.tool_index)
            call = {
                "index": n,
                "id": block.get("id") or "",
                "type": "function",
                "function": {"name": block.get("name") or "", "arguments": ""},
            }
            return [self.chunks.delta({"tool_calls": [call]})]
        if block.get("type") == "text" and block.get("text"):
            return [self.chunks.delta({"content": block["text"]})]
        return []

    def _delta(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        kind = delta.get("type")
        if kind == "text_delta":
            return [self.chunks.delta({"content": delta.get("text") or ""})]
        if kind == "thinking_delta":
            return [self.chunks.delta({"reasoning_content": delta.get("thinking") or ""})]
        if kind == "input_json_delta" and index == self.json_block:
            return [self.chunks.delta({"content": delta.get("partial_json") or ""})]
        if kind == "input_json_delta" and index in self.tool_index:
            part = {"index": self.tool_index[index], "function": {"arguments": delta.get("partial_json") or ""}}
            return [self.chunks.delta({"tool_calls": [part]})]
        return []  # signature_delta, citations_delta

    def _add_usage(self, u: dict[str, Any] | None) -> None:
        if u:
            self.usage.update({k: v for k, v in u.items() if v is not None})

    def _finish(self) -> list[dict[str, Any]]:
        self.done = True
        finish = STOP_REASONS.get(self.stop_reason or "", "stop")
        if finish == "tool_calls" and not self.tool_index:  # only the JSON tool was called
            finish = "stop"
        out = [self.chunks.delta({}, finish=finish)]
        if self.include_usage:
            out.append(self.chunks.usage(map_usage({"usage": self.usage})))
        return out
