"""The `ollama` dialect (`OllamaProvider`): Ollama's native `POST /api/chat` (NDJSON stream),
translated to and from OpenAI chat shapes. Native rather than Ollama's OpenAI endpoint so that
`options` (`num_ctx`, …), `keep_alive`, `think` and `format` reach the model.

With `"all_models": true` the model list is read from `GET /api/tags` at start and on reload
(`:latest` stripped) and merged with `models` (the configured aliases win). An Ollama that is
down is a notice: the configured models stay, nothing crashes.

Choices made where the two APIs differ:
- Images must be inline (Ollama takes base64 only); `tool_choice` other than "none" is not
  enforceable (Ollama has no such option) and is not sent.
- `reasoning_effort` → `think` (the effort itself for gpt-oss models, which take levels; true
  otherwise; false for none/minimal); `enable_thinking` → `think` as a boolean.
- Provider keys `options` and `keep_alive` in llms.json are sent as Ollama's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..core.errors import InvalidRequest, UpstreamConnectionError, UpstreamError, UpstreamStatusError
from ..core.types import Chunk, ProviderConfig, Timeouts
from . import embeddings
from .base import Provider, error_message
from .checks import encode_request, request_mapping
from .images import ImageFetcher
from .native import (
    ChunkFactory,
    completion,
    max_output_tokens,
    media_of,
    message_choice,
    new_call_id,
    new_completion_id,
    parts_of,
    remote_url_error,
    status_error,
    stop_list,
    text_of,
    tool_arguments,
    tool_call,
    usage,
    wants_usage,
)

DEFAULT_BASE_URL = "http://localhost:11434"
DISCOVERY_TIMEOUTS = Timeouts(connect=3, first_byte=10, idle=10, total=15)
OPTION_PARAMS = (
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("seed", "seed"),
    ("presence_penalty", "presence_penalty"),
    ("frequency_penalty", "frequency_penalty"),
)


class OllamaProvider(Provider):
    supports_embeddings = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        base = (config.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.url = base + "/api/chat"
        self.embed_url = base + "/api/embed"
        self.tags_url = base + "/api/tags"
        headers = {"Content-Type": "application/json", **config.headers}
        if config.api_key:  # an Ollama behind an authenticating proxy, or Ollama's cloud
            headers["Authorization"] = f"Bearer {config.api_key}"
        self.headers = headers
        self.configured_models = dict(config.models)
        self.all_models = bool(config.extra.get("all_models"))
        options = config.extra.get("options")
        self.options: dict[str, Any] = options if isinstance(options, dict) else {}
        self.keep_alive = config.extra.get("keep_alive")
        self.images = ImageFetcher.from_config(self.name, config.extra.get("fetch_image_urls"))

    async def start(self) -> None:
        """Discover the installed models (`all_models`); on failure keep the configured ones
        and raise, so the caller shows a notice."""
        if not self.all_models:
            return
        try:
            found = await self.installed_models()
        except UpstreamError as e:
            self.models = dict(self.configured_models)
            raise UpstreamConnectionError(
                f"cannot list models at {self.tags_url} ({e.message}); "
                f"serving the {len(self.models)} configured models",
                provider=self.name,
            ) from None
        self.models = {**{name: name for name in found}, **self.configured_models}

    async def installed_models(self) -> list[str]:
        async with self.client.open(
            "GET", self.tags_url, body=None, headers=self.headers, timeouts=DISCOVERY_TIMEOUTS
        ) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.error(r.status, data, r.headers)
            tags = self.loads(data, "the model list")  # (inside `open()`: scrubbed there)
        names = [m.get("model") or m.get("name") or "" for m in (tags or {}).get("models") or ()]
        return [n.removesuffix(":latest") for n in names if n]

    async def _prepare(self, request: dict[str, Any], alias: str, stream: bool) -> tuple[dict[str, Any], bytes]:
        req = self.with_defaults(request, alias)
        if self.images is not None:
            req = await self.images.inline(req)
        body = to_ollama(req, self.name, stream=stream, options=self.options, keep_alive=self.keep_alive)
        return req, encode_request(body)

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        req, body = await self._prepare(request, alias, stream=False)
        async with self.client.open("POST", self.url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.error(r.status, data, r.headers)
            answer = self.loads(data, "the answer")  # (inside `open()`: scrubbed there)
            if not isinstance(answer, dict) or "message" not in answer:
                if isinstance(answer, dict) and answer.get("error"):
                    raise self.error(500, data)
                raise self.protocol_error("the answer has no `message`")
        return from_ollama(answer, req["model"])

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        req, body = await self._prepare(request, alias, stream=True)
        mapper = StreamMapper(req["model"], wants_usage(req))
        async with self.client.open("POST", self.url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            if r.status >= 400:
                raise self.error(r.status, await r.read(), r.headers)
            async for line in self.ndjson_lines(r):
                for chunk in self._map_line(mapper, line):
                    yield Chunk(chunk)
        if not mapper.done:
            raise UpstreamConnectionError(
                "the stream ended before the answer was complete (no done: true)", provider=self.name
            )

    async def embed(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        """`/api/embed`, answered as OpenAI's embeddings."""
        model = self.provider_model(alias)
        body = encode_request(embeddings.to_ollama(request, model))
        async with self.client.open(
            "POST", self.embed_url, body=body, headers=self.headers, timeouts=self.timeouts
        ) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.error(r.status, data, r.headers)
            try:
                vectors, count = embeddings.from_ollama(self.loads(data, "the answer"))
            except ValueError as e:
                raise self.protocol_error(str(e)) from None
        return embeddings.answer(vectors, model, count, request.get("encoding_format"))

    def _map_line(self, mapper: StreamMapper, line: bytes) -> list[dict[str, Any]]:
        event = self.loads(line, "a stream line")
        if not isinstance(event, dict):
            raise self.protocol_error("a stream line is not a JSON object")
        if event.get("error"):
            raise self.error(500, line)
        return mapper.feed(event)

    def error(self, status: int, body: bytes, headers: Any = None) -> UpstreamStatusError:
        message, type_ = error_message(body)
        return status_error(self.name, status, message, type_, headers)


# -- request mapping -------------------------------------------------------------------------


@request_mapping("Ollama")
def to_ollama(
    req: dict[str, Any], provider: str, *, stream: bool, options: dict[str, Any], keep_alive: Any = None
) -> dict[str, Any]:
    """An OpenAI chat request as an `/api/chat` request."""
    body: dict[str, Any] = {"model": req["model"], "messages": messages(req.get("messages") or [], provider)}
    body["stream"] = stream
    opts = dict(options)
    for ours, theirs in OPTION_PARAMS:
        if req.get(ours) is not None:
            opts[theirs] = req[ours]
    limit = max_output_tokens(req)
    if limit is not None:
        opts["num_predict"] = limit
    stops = stop_list(req.get("stop"))
    if stops:
        opts["stop"] = stops
    if opts:
        body["options"] = opts
    tools = [t for t in req.get("tools") or () if t.get("type", "function") == "function"]
    if tools and req.get("tool_choice") != "none":
        body["tools"] = tools
    fmt = req.get("response_format") or {}
    if fmt.get("type") == "json_object":
        body["format"] = "json"
    elif fmt.get("type") == "json_schema":
        body["format"] = (fmt.get("json_schema") or {}).get("schema") or "json"
    think = _think(req)
    if think is not None:
        body["think"] = think
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


def _think(req: dict[str, Any]) -> bool | str | None:
    effort = req.get("reasoning_effort")
    if isinstance(effort, str):
        if effort in ("none", "minimal"):
            return False
        return effort if str(req.get("model", "")).startswith("gpt-oss") else True
    if isinstance(req.get("enable_thinking"), bool):
        return bool(req["enable_thinking"])
    return None


def messages(msgs: list[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    """OpenAI messages as Ollama's: images as a base64 list, tool-call arguments as objects,
    tool results named by the function they answer."""
    out: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for i, m in enumerate(msgs):
        role = m.get("role")
        if role in ("system", "developer"):
            out.append({"role": "system", "content": text_of(m.get("content"))})
        elif role == "user":
            out.append(_user(m, provider))
        elif role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": text_of(m.get("content"))}
            calls = []
            for call in m.get("tool_calls") or ():
                name = (call.get("function") or {}).get("name") or ""
                call_names[call.get("id") or ""] = name
                calls.append({"function": {"name": name, "arguments": tool_arguments(call)}})
            if calls:
                msg["tool_calls"] = calls
            out.append(msg)
        elif role == "tool":
            name = call_names.get(m.get("tool_call_id") or "") or m.get("name") or ""
            out.append({"role": "tool", "content": text_of(m.get("content")), "tool_name": name})
        else:
            raise InvalidRequest(f"messages[{i}].role {role!r} is not supported", param=f"messages[{i}].role")
    return out


def _user(m: dict[str, Any], provider: str) -> dict[str, Any]:
    text: list[str] = []
    images: list[str] = []
    for part in parts_of(m.get("content")):
        if part.get("type") in ("text", None):
            text.append(part.get("text") or "")
            continue
        mime, data, url = media_of(part)
        if url is not None:
            raise remote_url_error(provider, url)
        if not mime.startswith("image/"):
            raise InvalidRequest(f"Ollama takes text and images only, not {mime}", param="messages")
        images.append(data or "")
    msg: dict[str, Any] = {"role": "user", "content": "".join(text)}
    if images:
        msg["images"] = images
    return msg


# -- response mapping ------------------------------------------------------------------------


def finish_reason(done_reason: str | None, has_calls: bool) -> str:
    if done_reason == "length":
        return "length"
    return "tool_calls" if has_calls else "stop"


def map_usage(data: dict[str, Any]) -> dict[str, Any]:
    return usage(data.get("prompt_eval_count") or 0, data.get("eval_count") or 0)


def read_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    calls = []
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        calls.append(tool_call(call.get("id") or new_call_id(), fn.get("name") or "", fn.get("arguments")))
    return calls


def from_ollama(data: dict[str, Any], model: str) -> dict[str, Any]:
    """An `/api/chat` answer (`stream: false`) as a `chat.completion`."""
    message = data.get("message") or {}
    calls = read_calls(message)
    finish = finish_reason(data.get("done_reason"), bool(calls))
    choice = message_choice(0, message.get("content") or "", message.get("thinking") or "", calls, finish)
    return completion(new_completion_id(), data.get("model") or model, [choice], map_usage(data))


# -- stream mapping --------------------------------------------------------------------------


class StreamMapper:
    """NDJSON lines → chunks: `message.content` → content, `message.thinking` →
    reasoning_content, `message.tool_calls` (sent whole) → tool-call deltas, the `done` line →
    finish chunk and usage."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.chunks = ChunkFactory(new_completion_id(), model)
        self.include_usage = include_usage
        self.started = False
        self.calls = 0
        self.done = False

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self.started:
            self.started = True
            self.chunks.model = event.get("model") or self.chunks.model
            out.append(self.chunks.delta({"role": "assistant", "content": ""}))
        message = event.get("message") or {}
        if message.get("thinking"):
            out.append(self.chunks.delta({"reasoning_content": message["thinking"]}))
        if message.get("content"):
            out.append(self.chunks.delta({"content": message["content"]}))
        for call in read_calls(message):
            out.append(self.chunks.delta({"tool_calls": [{"index": self.calls, **call}]}))
            self.calls += 1
        if event.get("done"):
            self.done = True
            out.append(self.chunks.delta({}, finish=finish_reason(event.get("done_reason"), self.calls > 0)))
            if self.include_usage:
                out.append(self.chunks.usage(map_usage(event)))
        return out
