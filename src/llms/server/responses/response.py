"""The internal `chat.completion` as a Responses API `response` object. `shell` makes the
fields every `response` carries (also the in-progress one a stream opens with), echoing the
request's settings as OpenAI does; the output items are built by `output_items`."""

from __future__ import annotations

import os
import time
from typing import Any

from .request import namespaces


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def shell(body: dict[str, Any], model: str, response_id: str, status: str) -> dict[str, Any]:
    """A `response` with no output yet, for the request `body`."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else None
    text = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": (reasoning or {}).get("effort"), "summary": None},
        "store": False,
        "temperature": body.get("temperature", 1.0),
        "text": text,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def usage_of(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI chat usage as Responses usage (None when the upstream gave none)."""
    if not usage:
        return None
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": usage.get("total_tokens") or prompt + completion,
    }


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": text}]}


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = (
        [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status == "completed" else []
    )
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed", namespace: str | None = None
) -> dict[str, Any]:
    item = {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }
    if namespace:
        item["namespace"] = namespace
    return item


def finish(response: dict[str, Any], finish_reason: str | None) -> None:
    """Status and `incomplete_details` from the chat finish reason."""
    if finish_reason == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
    else:
        response["status"] = "completed"


def to_response(result: dict[str, Any], body: dict[str, Any], model: str) -> dict[str, Any]:
    """A non-streamed chat completion as a completed (or incomplete) `response`."""
    response = shell(body, model, new_id("resp"), "completed")
    spaces = namespaces(body)
    choice = (result.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        response["output"].append(reasoning_item(new_id("rs"), reasoning))
    text = msg.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text") or "" for p in text if isinstance(p, dict))
    if text or not msg.get("tool_calls"):
        response["output"].append(message_item(new_id("msg"), text or ""))
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") or {}
        args = fn.get("arguments") or "{}"
        name = fn.get("name") or ""
        item = call_item(new_id("fc"), call.get("id") or new_id("call"), name, args, namespace=spaces.get(name))
        response["output"].append(item)
    finish(response, choice.get("finish_reason"))
    response["usage"] = usage_of(result.get("usage"))
    return response
