"""OpenAI chat request → Gemini `generateContent` request."""

from __future__ import annotations

from typing import Any

from ...core.errors import InvalidRequest
from ..checks import request_mapping
from ..native import (
    max_output_tokens,
    media_of,
    parts_of,
    remote_url_error,
    stop_list,
    tool_arguments,
    tool_result_value,
)

THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
# Keys of Gemini's `Schema` object (an OpenAPI 3.0 subset); others are dropped from tool schemas.
SCHEMA_KEYS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties"}
    | {"required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example"}
    | {"anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
)


@request_mapping("Gemini")
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
        signature = _thought_signature(call)
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _thought_signature(call: dict[str, Any]) -> Any:
    """`extra_content.google.thought_signature`, which Gemini's answer put on the tool call."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    return google.get("thought_signature") if isinstance(google, dict) else None


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
