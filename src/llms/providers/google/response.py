"""Gemini answers, stream events and errors → OpenAI `chat.completion`, chunks and the
gateway's error tree."""

from __future__ import annotations

from typing import Any

from ...core.errors import UpstreamConnectionError, UpstreamStatusError
from ..native import (
    ChunkFactory,
    completion,
    message_choice,
    new_call_id,
    new_completion_id,
    status_error,
    tool_call,
    usage,
)

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
        status = int(err["code"]) if isinstance(err.get("code"), int) else RPC_STATUS.get(rpc or "", 500)
    details = [d for d in err.get("details") or () if isinstance(d, dict)]
    if "API_KEY_INVALID" in {d.get("reason") for d in details}:
        status = 401
    # google.rpc.BadRequest names the fields it blames: the first one is OpenAI's `param`
    fields = [v.get("field") for d in details for v in d.get("fieldViolations") or () if isinstance(v, dict)]
    param = next((f for f in fields if isinstance(f, str) and f), None)
    return status_error(provider, status, str(err.get("message") or rpc or ""), rpc, headers, param)


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
