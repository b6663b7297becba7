"""A Messages API request as the internal OpenAI chat request.

Choices made where the APIs differ (documented in docs/apis.md):
- `system` (a string or text blocks) becomes the first `system` message; text blocks keep their
  `cache_control`, which the Anthropic dialect forwards and OpenRouter-style upstreams read.
- a user turn's `tool_result` blocks become `tool` messages placed before the rest of that turn
  (OpenAI wants tool results right after the assistant's tool calls); an error result is sent
  as its text, prefixed "Error: ", since OpenAI's tool message has no error flag.
- `thinking` blocks in history become the assistant's `reasoning_content`; signatures and
  `redacted_thinking` cannot be replayed through OpenAI shapes and are dropped.
- `thinking: {type: enabled, budget_tokens}` → `reasoning_effort` low (< 4096), medium
  (< 16384) or high; `adaptive` → medium; `disabled` → none. `output_config.effort` wins when
  given (xhigh and max → high); `output_config.format` (JSON schema) → `response_format`.
- `max_tokens` → `max_tokens`; `top_k` is forwarded (vLLM, llama.cpp, OpenRouter read it);
  `metadata.user_id` → `user`; server tools (web search, bash, …) are refused with a 400:
  only the client's own tools can run on other providers.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...core.errors import InvalidRequest

EFFORT_BUDGETS = ((4096, "low"), (16384, "medium"))
ROLES = ("user", "assistant", "system")
OUTPUT_EFFORT = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI chat request for a checked Messages request (see `check`)."""
    messages: list[dict[str, Any]] = []
    system = _system(body.get("system"))
    if system is not None:
        messages.append({"role": "system", "content": system})
    for i, m in enumerate(body["messages"]):
        messages.extend(_turn(m, i))
    req: dict[str, Any] = {"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]}
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            req[key] = body[key]
    if body.get("stop_sequences"):
        req["stop"] = list(body["stop_sequences"])
    if body.get("tools"):
        req["tools"] = [_tool(t, i) for i, t in enumerate(body["tools"])]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        _tool_choice(req, choice)
    output: dict[str, Any] = body["output_config"] if isinstance(body.get("output_config"), dict) else {}
    effort = OUTPUT_EFFORT.get(output.get("effort") or "") or reasoning_effort(body.get("thinking"))
    if effort:
        req["reasoning_effort"] = effort
    fmt = output.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {"name": "output", "schema": fmt.get("schema") or {}, "strict": True}
        req["response_format"] = {"type": "json_schema", "json_schema": schema}
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        req["user"] = metadata["user_id"]
    if body.get("stream"):
        req["stream"] = True
    return req


def check(body: dict[str, Any]) -> None:
    """The fields every Messages request needs, with Anthropic's 400 wording style."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required", param="model")
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidRequest("max_tokens: Field required (an integer >= 1)", param="max_tokens")
    msgs = body.get("messages")
    if not isinstance(msgs, list):
        raise InvalidRequest("messages: Field required (an array)", param="messages")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise InvalidRequest(
                f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'", param=f"messages.{i}"
            )
        if not isinstance(m.get("content"), (str, list)):
            raise InvalidRequest(f"messages.{i}.content: Field required", param=f"messages.{i}.content")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: Input should be a valid boolean", param="stream")


def reasoning_effort(thinking: Any) -> str | None:
    if not isinstance(thinking, dict):
        return None
    kind = thinking.get("type")
    if kind == "adaptive":
        return "medium"
    if kind != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    budget = budget if isinstance(budget, int) else 0
    return next((effort for limit, effort in EFFORT_BUDGETS if budget < limit), "high")


def _system(system: Any) -> str | list[dict[str, Any]] | None:
    if system is None or system == "" or system == []:
        return None
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise InvalidRequest("system: Input should be a string or an array of text blocks", param="system")
    parts = [_text_part(b) for b in system if isinstance(b, dict) and b.get("type") == "text"]
    if not any("cache_control" in p for p in parts):
        return "\n\n".join(p["text"] for p in parts)  # plain text: what every upstream reads
    return parts


def _text_part(block: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "text", "text": block.get("text") or ""}
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _blocks(content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b if isinstance(b, dict) else {"type": "text", "text": str(b)} for b in content]


def _turn(m: dict[str, Any], i: int) -> list[dict[str, Any]]:
    if m["role"] == "system":  # (Claude Code sends system turns between the others)
        system = _system(m["content"])
        return [] if system is None else [{"role": "system", "content": system}]
    blocks = _blocks(m["content"])
    if m["role"] == "assistant":
        return [_assistant(blocks, i)]
    out = [_tool_message(b, i) for b in blocks if b.get("type") == "tool_result"]
    found = [_user_part(b, i) for b in blocks if b.get("type") != "tool_result"]
    parts = [p for p in found if p is not None]
    if parts:
        plain = all(p["type"] == "text" and "cache_control" not in p for p in parts)
        out.append({"role": "user", "content": "".join(p["text"] for p in parts) if plain else parts})
    return out


def _user_part(block: dict[str, Any], i: int) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        return _text_part(block)
    if kind in ("image", "document"):
        return _media_part(block, i)
    if kind in ("thinking", "redacted_thinking"):
        return None
    raise InvalidRequest(f"messages.{i}.content: block type {kind!r} is not supported here", param=f"messages.{i}")


def _media_part(block: dict[str, Any], i: int) -> dict[str, Any]:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        url = f"data:{source.get('media_type') or 'application/octet-stream'};base64,{source.get('data') or ''}"
    elif kind == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    elif kind == "text" and block.get("type") == "document":
        return {"type": "text", "text": source.get("data") or ""}
    else:
        raise InvalidRequest(
            f"messages.{i}.content: {block.get('type')} source type {kind!r} is not supported", param=f"messages.{i}"
        )
    if block.get("type") == "document":
        if not url.startswith("data:"):
            raise InvalidRequest(f"messages.{i}.content: documents must be sent as base64", param=f"messages.{i}")
        return {"type": "file", "file": {"file_data": url, "filename": block.get("title") or "document.pdf"}}
    part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _tool_message(block: dict[str, Any], i: int) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        content = "".join(b.get("text") or "" for b in content if isinstance(b, dict) and b.get("type") == "text")
    text = content if isinstance(content, str) else ""
    if block.get("is_error"):
        text = "Error: " + text
    return {"role": "tool", "tool_call_id": block.get("tool_use_id") or "", "content": text}


def _assistant(blocks: list[dict[str, Any]], i: int) -> dict[str, Any]:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            text.append(b.get("text") or "")
        elif kind == "thinking":
            reasoning.append(b.get("thinking") or "")
        elif kind == "tool_use":
            args = orjson.dumps(b.get("input") or {}).decode()
            calls.append(
                {"id": b.get("id") or "", "type": "function", "function": {"name": b.get("name"), "arguments": args}}
            )
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if reasoning:
        msg["reasoning_content"] = "".join(reasoning)
    if calls:
        msg["tool_calls"] = calls
    return msg


def _tool(tool: Any, i: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise InvalidRequest(f"tools.{i}.name: Field required", param=f"tools.{i}")
    kind = tool.get("type")
    if kind not in (None, "custom"):
        raise InvalidRequest(
            f"tools.{i}: server tool {kind!r} runs only on Anthropic's own servers; "
            "define it as a client tool (name, description, input_schema) to use it through the gateway",
            param=f"tools.{i}.type",
        )
    fn: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
    if tool.get("description"):
        fn["description"] = tool["description"]
    return {"type": "function", "function": fn}


def _tool_choice(req: dict[str, Any], choice: dict[str, Any]) -> None:
    kind = choice.get("type")
    if kind == "auto":
        req["tool_choice"] = "auto"
    elif kind == "any":
        req["tool_choice"] = "required"
    elif kind == "none":
        req["tool_choice"] = "none"
    elif kind == "tool":
        req["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    if choice.get("disable_parallel_tool_use") and req.get("tools"):
        req["parallel_tool_calls"] = False
