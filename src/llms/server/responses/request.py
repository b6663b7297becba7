"""A Responses API request as the internal OpenAI chat request.

Stateless by design (docs/apis.md): `previous_response_id`, `conversation`, `store: true` and
`item_reference` inputs would need responses kept on the server, so they are refused with a 400
that says so. Function tools work with every provider, also inside a `namespace` tool (Codex
groups its sub-agent tools so): they are offered flat, and a call of one comes back naming its
namespace. Built-in tools (web search, file search, computer use, …) run only at OpenAI: they
are left out, so a client that always sends one (Codex sends `web_search`) still works — the
model simply does not get that tool. `reasoning` items in the input are dropped (their encrypted
content means nothing to another provider)."""

from __future__ import annotations

from typing import Any

from ...core.errors import InvalidRequest

STATEFUL = "This gateway's Responses API is stateless"


def check(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if body.get("previous_response_id"):
        raise InvalidRequest(
            f"{STATEFUL}: `previous_response_id` is not supported. Send the whole conversation "
            "as `input` items (and `store: false`).",
            param="previous_response_id",
            code="unsupported_parameter",
        )
    if body.get("conversation"):
        raise InvalidRequest(f"{STATEFUL}: `conversation` is not supported.", param="conversation")
    if body.get("store") is True:
        raise InvalidRequest(
            f"{STATEFUL}: `store: true` is not supported; send `store: false`.",
            param="store",
            code="unsupported_parameter",
        )
    inp = body.get("input")
    if not isinstance(inp, (str, list)) or not inp:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise InvalidRequest("Invalid type for 'stream': expected a boolean.", param="stream")


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The chat request for a checked Responses request."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    inp = body["input"]
    if isinstance(inp, str):
        messages.append({"role": "user", "content": inp})
    else:
        for i, item in enumerate(inp):
            _item(messages, item, i)
    req: dict[str, Any] = {"model": body["model"], "messages": messages}
    if body.get("max_output_tokens") is not None:
        req["max_tokens"] = body["max_output_tokens"]
    for key in ("temperature", "top_p", "parallel_tool_calls", "user", "top_logprobs", "service_tier"):
        if body.get(key) is not None:
            req[key] = body[key]
    tools = [_tool(t) for t in function_tools(body)]
    if tools:
        req["tools"] = tools
    if tools and body.get("tool_choice") is not None:
        req["tool_choice"] = _tool_choice(body["tool_choice"])
    fmt = _format(body.get("text"))
    if fmt is not None:
        req["response_format"] = fmt
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        req["reasoning_effort"] = reasoning["effort"]
    if body.get("stream"):
        req["stream"] = True
    return req


def _item(messages: list[dict[str, Any]], item: Any, i: int) -> None:
    if not isinstance(item, dict):
        raise InvalidRequest(f"Invalid 'input[{i}]': expected an object.", param=f"input[{i}]")
    kind = item.get("type") or "message"
    if kind == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidRequest(f"Invalid 'input[{i}].role': {role!r}.", param=f"input[{i}].role")
        messages.append(
            {"role": "system" if role == "developer" else role, "content": _content(item.get("content"), i)}
        )
    elif kind == "function_call":
        call = {
            "id": item.get("call_id") or item.get("id") or "",
            "type": "function",
            "function": {"name": item.get("name") or "", "arguments": item.get("arguments") or "{}"},
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item.get("output")
        if isinstance(output, list):
            output = "".join(p.get("text") or "" for p in output if isinstance(p, dict))
        messages.append({"role": "tool", "tool_call_id": item.get("call_id") or "", "content": output or ""})
    elif kind == "reasoning":
        return
    elif kind == "item_reference":
        raise InvalidRequest(f"{STATEFUL}: `item_reference` inputs are not supported.", param=f"input[{i}]")
    else:
        raise InvalidRequest(f"Invalid 'input[{i}].type': {kind!r} is not supported.", param=f"input[{i}].type")


def _content(content: Any, i: int) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"Invalid 'input[{i}].content'.", param=f"input[{i}].content")
    parts = [_part(p, i) for p in content if isinstance(p, dict)]
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _part(part: dict[str, Any], i: int) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text", "refusal"):
        return {"type": "text", "text": part.get("text") or part.get("refusal") or ""}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str):
            raise InvalidRequest(f"Invalid 'input[{i}]': images need `image_url` (file ids are not supported).")
        image: dict[str, Any] = {"url": url}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and isinstance(part.get("file_data"), str):
        return {"type": "file", "file": {"file_data": part["file_data"], "filename": part.get("filename") or "file"}}
    raise InvalidRequest(f"Invalid 'input[{i}].content': part type {kind!r} is not supported.", param=f"input[{i}]")


def function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's function tools, those inside `namespace` tools included (built-ins left out)."""
    out: list[dict[str, Any]] = []
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "function":
            out.append(tool)
        elif tool.get("type") == "namespace":
            out.extend(t for t in tool.get("tools") or () if isinstance(t, dict) and t.get("type") == "function")
    return out


def namespaces(body: dict[str, Any]) -> dict[str, str]:
    """Function name → the `namespace` tool it was offered in."""
    out: dict[str, str] = {}
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "namespace" and isinstance(tool.get("name"), str):
            for t in tool.get("tools") or ():
                if isinstance(t, dict) and isinstance(t.get("name"), str):
                    out[t["name"]] = tool["name"]
    return out


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("parameters") or {"type": "object"}}
    if tool.get("description"):
        fn["description"] = tool["description"]
    if tool.get("strict") is not None:
        fn["strict"] = tool["strict"]
    return {"type": "function", "function": fn}


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice if choice in ("auto", "none", "required") else "auto"


def _format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        spec = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": spec}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return None
