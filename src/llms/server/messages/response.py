"""The internal `chat.completion` as a Messages API answer (`type: message`)."""

from __future__ import annotations

import os
from typing import Any

import orjson

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def new_message_id() -> str:
    return "msg_" + os.urandom(12).hex()


def stop_reason(finish: str | None) -> str:
    return STOP_REASONS.get(finish or "stop", "end_turn")


def usage_of(usage: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI's usage as Anthropic's: `input_tokens` excludes cache reads, which are counted
    apart as `cache_read_input_tokens` (the inverse of the Anthropic dialect's mapping)."""
    u = usage or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    out: dict[str, Any] = {
        "input_tokens": max(0, (u.get("prompt_tokens") or 0) - cached),
        "output_tokens": u.get("completion_tokens") or 0,
    }
    if cached:
        out["cache_read_input_tokens"] = cached
    return out


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's argument string as the object `tool_use.input` must be."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"_raw": arguments}  # a model's broken JSON, kept rather than lost
    return value if isinstance(value, dict) else {"value": value}


def to_message(result: dict[str, Any], model: str) -> dict[str, Any]:
    """The first choice of a chat completion as a Messages answer for `model` (the alias asked)."""
    choice = (result.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = msg.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text") or "" for p in text if isinstance(p, dict))
    if text:
        content.append({"type": "text", "text": text})
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or "",
                "name": fn.get("name") or "",
                "input": tool_input(fn.get("arguments")),
            }
        )
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": usage_of(result.get("usage")),
    }
