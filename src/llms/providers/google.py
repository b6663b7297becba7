"""The `google` dialect (`GoogleProvider`): Gemini's `generateContent` and
`streamGenerateContent?alt=sse`, translated to and from OpenAI chat shapes, plain and streamed.

Choices made where the two APIs differ:
- The key goes in the `x-goog-api-key` header (kept out of URLs and logs); `"key_in_query": true`
  on the provider sends it as `?key=` instead.
- `reasoning_effort` → `thinkingConfig` (none/minimal/low/medium/high → a budget of
  0/512/1024/8192/24576 tokens, thoughts included and returned as `reasoning_content`); without it
  the provider's `thinking_config` from llms.json is sent. `safety_settings` is sent as is.
- Tool parameter schemas are trimmed to the OpenAPI subset Gemini accepts (`additionalProperties`,
  `$schema`, … dropped; `["string", "null"]` → `nullable`).
- Gemini names a function result by function name, not call id: a `tool` message's name is looked
  up from the assistant tool call it answers. A call's `thoughtSignature` travels as
  `extra_content.google.thought_signature` on the OpenAI tool call (as Gemini's own OpenAI
  endpoint does) and is sent back with it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..core.errors import InvalidRequest, UpstreamConnectionError, UpstreamStatusError
from ..core.types import Chunk, ProviderConfig
from ..transport import SSEDecoder
from .base import Provider
from .native import (
    ChunkFactory,
    completion,
    inline_image_urls,
    max_output_tokens,
    media_of,
    message_choice,
    new_call_id,
    new_completion_id,
    parts_of,
    remote_url_error,
    status_error,
    stop_list,
    tool_arguments,
    tool_call,
    tool_result_value,
    usage,
    wants_usage,
)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
# google.rpc status names → HTTP status, for errors that arrive inside a stream.
RPC_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
# Keys of Gemini's `Schema` object (an OpenAPI 3.0 subset); others are dropped from tool schemas.
SCHEMA_KEYS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties"}
    | {"required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example"}
    | {"anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
)
_VERSIONED = re.compile(r"/v\d+(alpha|beta)?\d*$")


def model_url(base_url: str, model: str, *, stream: bool) -> str:
    """base_url + /v1beta/models/{model}:generateContent (or :streamGenerateContent?alt=sse)."""
    base = base_url.rstrip("/")
    if not _VERSIONED.search(base):
        base += "/v1beta"
    name = model if "/" in model else f"models/{model}"
    return f"{base}/{name}:" + ("streamGenerateContent?alt=sse" if stream else "generateContent")


class GoogleProvider(Provider):
    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.base_url = config.base_url or DEFAULT_BASE_URL
        self.key_in_query = bool(config.extra.get("key_in_query"))
        headers = {"Content-Type": "application/json", **config.headers}
        headers.pop("Authorization", None)  # Gemini rejects a bearer token next to an API key
        if config.api_key and not self.key_in_query:
            headers["x-goog-api-key"] = config.api_key
        self.headers = headers
        self.safety_settings = config.extra.get("safety_settings")
        self.thinking_config = config.extra.get("thinking_config")
        self.fetch_image_urls = bool(config.extra.get("fetch_image_urls"))

    def url(self, model: str, *, stream: bool) -> str:
        url = model_url(self.base_url, model, stream=stream)
        if self.key_in_query and self.config.api_key:
            url += ("&" if "?" in url else "?") + "key=" + self.config.api_key
        return url

    async def _prepare(self, request: dict[str, Any], alias: str) -> tuple[dict[str, Any], bytes]:
        req = self.with_defaults(request, alias)
        if self.fetch_image_urls:
            req = await inline_image_urls(req, self.client, self.timeouts)
        body = to_gemini(req, self.name, safety_settings=self.safety_settings, thinking_config=self.thinking_config)
        return req, orjson.dumps(body)

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        req, body = await self._prepare(request, alias)
        url = self.url(req["model"], stream=False)
        async with self.client.open("POST", url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.error(r.status, data, r.headers)
        answer = self.loads(data, "the answer")
        if not isinstance(answer, dict):
            raise self.protocol_error("the answer is not a JSON object")
        if answer.get("error"):
            raise self.error(502, data)
        return from_gemini(answer, req["model"])

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        req, body = await self._prepare(request, alias)
        url = self.url(req["model"], stream=True)
        mapper = StreamMapper(self.name, req["model"], wants_usage(req))
        async with self.client.open("POST", url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            if r.status >= 400:
                raise self.error(r.status, await r.read(), r.headers)
            decoder = SSEDecoder()
            async for data in r.iter_chunks():
                for event in decoder.feed(data):
                    for chunk in mapper.feed(self.loads(event.data, "a stream event")):
                        yield Chunk(chunk)
            for event in decoder.flush():
                for chunk in mapper.feed(self.loads(event.data, "a stream event")):
                    yield Chunk(chunk)
        if not mapper.finished:
            raise UpstreamConnectionError(
                "the stream ended before the answer was complete (no finishReason)", provider=self.name
            )
        for chunk in mapper.close():
            yield Chunk(chunk)

    def error(self, status: int, body: bytes, headers: Any = None) -> UpstreamStatusError:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = {"error": {"message": body.decode("utf-8", "replace")[:300]}}
        return gemini_error(self.name, status, data, headers)


def gemini_error(provider: str, status: int, data: Any, headers: Any = None) -> UpstreamStatusError:
    """`{"error": {"code", "message", "status", "details"}}` (or a list of one) as ours. An
    invalid key comes as 400 INVALID_ARGUMENT with reason API_KEY_INVALID: it is treated as the
    401 it means, so another provider is tried."""
    if isinstance(data, list) and data:
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    err = err if isinstance(err, dict) else {"message": str(err or data)[:300]}
    rpc = err.get("status") if isinstance(err.get("status"), str) else None
    if status < 400:
        status = err.get("code") if isinstance(err.get("code"), int) else RPC_STATUS.get(rpc or "", 500)
    reasons = {d.get("reason") for d in err.get("details") or () if isinstance(d, dict)}
    if "API_KEY_INVALID" in reasons:
        status = 401
    return status_error(provider, status, str(err.get("message") or rpc or ""), rpc, headers)


# -- request mapping -------------------------------------------------------------------------


def to_gemini(
    req: dict[str, Any], provider: str, *, safety_settings: Any = None, thinking_config: Any = None
) -> dict[str, Any]:
    """An OpenAI chat request as a `generateContent` request."""
    system, contents = conversation(req.get("messages") or [], provider)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    gen = generation_config(req, thinking_config)
    if gen:
        body["generationConfig"] = gen
    safety = req.get("safety_settings") or safety_settings
    if safety:
        body["safetySettings"] = safety
    tools = [t.get("function") or {} for t in req.get("tools") or () if t.get("type", "function") == "function"]
    if tools and req.get("tool_choice") != "none":
        body["tools"] = [{"functionDeclarations": [_declaration(fn) for fn in tools]}]
        mode = _tool_config(req.get("tool_choice"))
        if mode:
            body["toolConfig"] = {"functionCallingConfig": mode}
    return body


def generation_config(req: dict[str, Any], thinking_config: Any) -> dict[str, Any]:
    gen: dict[str, Any] = {}
    limit = max_output_tokens(req)
    if limit is not None:
        gen["maxOutputTokens"] = limit
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("seed", "seed"),
        ("n", "candidateCount"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if req.get(ours) is not None:
            gen[theirs] = req[ours]
    stops = stop_list(req.get("stop"))
    if stops:
        gen["stopSequences"] = stops
    fmt = req.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        gen["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if fmt["type"] == "json_schema" and schema:
            gen["responseJsonSchema"] = schema
    effort = req.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[effort]
        gen["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    elif req.get("thinking_config") or thinking_config:
        gen["thinkingConfig"] = req.get("thinking_config") or thinking_config
    return gen


def conversation(messages: list[dict[str, Any]], provider: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system parts, contents): system/developer messages → `systemInstruction`; assistant →
    role `model`; tool results → `functionResponse` parts of a user turn; consecutive turns of
    one role merged."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend({"text": p["text"]} for p in parts_of(m.get("content")) if p.get("text"))
            continue
        if role == "user":
            parts = [_part(p, provider) for p in parts_of(m.get("content")) if _has_value(p)]
        elif role == "assistant":
            role, parts = "model", _model_parts(m, call_names)
        elif role == "tool":
            role, parts = "user", [_function_response(m, call_names)]
        else:
            raise InvalidRequest(f"messages[{i}].role {role!r} is not supported", param=f"messages[{i}].role")
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _has_value(part: dict[str, Any]) -> bool:
    return part.get("type") not in ("text", None) or bool(part.get("text"))


def _part(part: dict[str, Any], provider: str) -> dict[str, Any]:
    if part.get("type") in ("text", None):
        return {"text": part.get("text") or ""}
    mime, data, url = media_of(part)
    if url is not None:
        raise remote_url_error(provider, url)
    return {"inlineData": {"mimeType": mime, "data": data}}


def _model_parts(m: dict[str, Any], call_names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": p["text"]} for p in parts_of(m.get("content")) if p.get("text")]
    for call in m.get("tool_calls") or ():
        name = (call.get("function") or {}).get("name") or ""
        call_names[call.get("id") or ""] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": tool_arguments(call)}}
        signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(m: dict[str, Any], call_names: dict[str, str]) -> dict[str, Any]:
    name = call_names.get(m.get("tool_call_id") or "") or m.get("name") or ""
    value = tool_result_value(m.get("content"))
    return {"functionResponse": {"name": name, "response": value if isinstance(value, dict) else {"result": value}}}


def _declaration(fn: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": fn.get("name") or ""}
    if fn.get("description"):
        out["description"] = fn["description"]
    params = fn.get("parameters")
    if isinstance(params, dict) and params.get("properties"):
        out["parameters"] = gemini_schema(params)
    return out


def gemini_schema(schema: Any) -> Any:
    """A JSON Schema trimmed to Gemini's Schema subset."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in SCHEMA_KEYS:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: gemini_schema(s) for name, s in value.items()}
        elif key == "items":
            out[key] = gemini_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [gemini_schema(s) for s in value]
        elif key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            out["type"] = kinds[0] if kinds else "string"
            if "null" in value:
                out["nullable"] = True
        else:
            out[key] = value
    return out


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice == "auto":
        return {"mode": "AUTO"}
    if choice == "required":
        return {"mode": "ANY"}
    if isinstance(choice, dict):
        return {"mode": "ANY", "allowedFunctionNames": [(choice.get("function") or {}).get("name")]}
    return None


# -- response mapping ------------------------------------------------------------------------


def from_gemini(data: dict[str, Any], model: str) -> dict[str, Any]:
    """A `GenerateContentResponse` as a `chat.completion`."""
    choices = []
    for i, cand in enumerate(data.get("candidates") or ()):
        text, reasoning, calls = read_parts((cand.get("content") or {}).get("parts") or ())
        finish = finish_reason(cand.get("finishReason"), bool(calls))
        choices.append(message_choice(cand.get("index", i), "".join(text), "".join(reasoning), calls, finish))
    if not choices and (data.get("promptFeedback") or {}).get("blockReason"):
        choices.append(message_choice(0, "", "", [], "content_filter"))
    return completion(
        data.get("responseId") or new_completion_id(),
        data.get("modelVersion") or model,
        choices,
        map_usage(data.get("usageMetadata")),
    )


def read_parts(parts: Any) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        if "functionCall" in part:
            fc = part["functionCall"] or {}
            call = tool_call(fc.get("id") or new_call_id(), fc.get("name") or "", fc.get("args"))
            if part.get("thoughtSignature"):
                call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
            calls.append(call)
        elif isinstance(part.get("text"), str):
            (reasoning if part.get("thought") else text).append(part["text"])
    return text, reasoning, calls


def finish_reason(reason: str | None, has_calls: bool) -> str:
    mapped = FINISH_REASONS.get(reason or "", "stop")
    return "tool_calls" if has_calls and mapped == "stop" else mapped


def map_usage(u: dict[str, Any] | None) -> dict[str, Any] | None:
    """Gemini counts thoughts apart from `candidatesTokenCount`; OpenAI's `completion_tokens`
    includes reasoning, reported again as `reasoning_tokens`."""
    if not u:
        return None
    prompt = (u.get("promptTokenCount") or 0) + (u.get("toolUsePromptTokenCount") or 0)
    thoughts = u.get("thoughtsTokenCount") or 0
    return usage(
        prompt,
        (u.get("candidatesTokenCount") or 0) + thoughts,
        cached=u.get("cachedContentTokenCount") or 0,
        reasoning=thoughts,
        total=u.get("totalTokenCount") or 0,
    )


# -- stream mapping --------------------------------------------------------------------------


class StreamMapper:
    """Each SSE event is a whole `GenerateContentResponse` holding the next parts: text →
    content, thought text → reasoning_content, each functionCall (sent whole) → one tool-call
    delta carrying its full arguments, finishReason → the finish chunk; usage comes last."""

    def __init__(self, provider: str, model: str, include_usage: bool) -> None:
        self.provider = provider
        self.chunks = ChunkFactory(new_completion_id(), model)
        self.include_usage = include_usage
        self.started = False
        self.usage: dict[str, Any] | None = None
        self.calls: dict[int, int] = {}  # candidate index → tool calls so far
        self.open: set[int] = set()  # candidates seen and not yet finished
        self.finished = False

    def feed(self, event: Any) -> list[dict[str, Any]]:
        if not isinstance(event, (dict, list)):
            raise UpstreamConnectionError("bad response: a stream event is not an object", provider=self.provider)
        if isinstance(event, list) or event.get("error"):
            raise gemini_error(self.provider, 200, event)
        out: list[dict[str, Any]] = []
        if not self.started:
            self.started = True
            self.chunks.id = event.get("responseId") or self.chunks.id
            self.chunks.model = event.get("modelVersion") or self.chunks.model
            out.append(self.chunks.delta({"role": "assistant", "content": ""}))
        self.usage = event.get("usageMetadata") or self.usage
        for i, cand in enumerate(event.get("candidates") or ()):
            out.extend(self._candidate(cand.get("index", i), cand))
        if not event.get("candidates") and (event.get("promptFeedback") or {}).get("blockReason"):
            self.finished = True
            out.append(self.chunks.delta({}, finish="content_filter"))
        return out

    def _candidate(self, index: int, cand: dict[str, Any]) -> list[dict[str, Any]]:
        self.open.add(index)
        out = []
        text, reasoning, calls = read_parts((cand.get("content") or {}).get("parts") or ())
        if reasoning:
            out.append(self.chunks.delta({"reasoning_content": "".join(reasoning)}, index))
        if text:
            out.append(self.chunks.delta({"content": "".join(text)}, index))
        for call in calls:
            n = self.calls[index] = self.calls.get(index, 0) + 1
            out.append(self.chunks.delta({"tool_calls": [{"index": n - 1, **call}]}, index))
        if cand.get("finishReason"):
            self.open.discard(index)
            self.finished = not self.open
            out.append(self.chunks.delta({}, index, finish_reason(cand["finishReason"], index in self.calls)))
        return out

    def close(self) -> list[dict[str, Any]]:
        """What follows the last event: the usage chunk, when the client asked for it."""
        mapped = map_usage(self.usage)
        return [self.chunks.usage(mapped)] if self.include_usage and mapped else []
