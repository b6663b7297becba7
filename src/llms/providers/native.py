"""What every native (non-OpenAI) dialect shares: reading OpenAI content parts and data URIs,
tool-call ids and arguments, building `chat.completion` / `chat.completion.chunk` shapes, and
turning a vendor's error status and type into the gateway's error tree.

Nothing here knows a vendor's wire shape; each dialect module does its own mapping with these.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from ..core.errors import InvalidRequest, UpstreamStatusError
from ..transport import retry_after_seconds

# OpenAI error `type` for each client-fault status, so a native vendor's error reads like OpenAI's.
OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


# -- reading requests ------------------------------------------------------------------------


def parts_of(content: Any) -> list[dict[str, Any]]:
    """A message's `content` as a list of OpenAI content parts (a string is one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [p if isinstance(p, dict) else {"type": "text", "text": str(p)} for p in content]
    raise InvalidRequest("message `content` must be a string or an array of content parts", param="messages")


def text_of(content: Any) -> str:
    """The text of a message's content, parts joined (images and files are left out)."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or "" for p in parts_of(content) if p.get("type") in ("text", None))


def data_uri(url: str) -> tuple[str, str] | None:
    """`data:<mime>;base64,<data>` → (mime, base64 data); None for any other URL. A data URI
    without `;base64` is percent-decoded and encoded, so vendors always get base64."""
    if not url.startswith("data:"):
        return None
    head, sep, payload = url[5:].partition(",")
    if not sep:
        raise InvalidRequest("malformed data URI: no ',' before the data", param="messages")
    mime, _, params = head.partition(";")
    if "base64" in params.split(";"):
        return mime or "application/octet-stream", payload.strip()
    return mime or "text/plain", base64.b64encode(unquote_to_bytes(payload)).decode()


def media_of(part: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """An image, audio or file part as (mime type, base64 data or None, remote URL or None)."""
    kind = part.get("type")
    if kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        if not isinstance(url, str) or not url:
            raise InvalidRequest("an `image_url` part needs `image_url.url`", param="messages")
        inline = data_uri(url)
        return (inline[0], inline[1], None) if inline else ("", None, url)
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        return f"audio/{audio.get('format') or 'wav'}", audio.get("data") or "", None
    if kind == "file":
        file = part.get("file") or {}
        inline = data_uri(file.get("file_data") or "")
        if inline is None:
            raise InvalidRequest("a `file` part needs `file.file_data` as a data URI", param="messages")
        return inline[0], inline[1], None
    raise InvalidRequest(f"content part type {kind!r} is not supported by this provider", param="messages")


def remote_url_error(provider: str, url: str) -> InvalidRequest:
    return InvalidRequest(
        f"{provider} cannot read images from URLs ({url[:80]}): send the image as a data URI "
        '(data:image/png;base64,…), or set "fetch_image_urls": true on the provider in llms.json',
        param="messages",
        code="image_url_not_supported",
    )


def tool_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """An assistant tool call's `function.arguments` JSON string as an object."""
    fn = call.get("function") or {}
    args = fn.get("arguments")
    if args is None or args == "":
        return {}
    if isinstance(args, dict):
        return args
    try:
        value = orjson.loads(args)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            f"tool call {call.get('id', '')!r}: `function.arguments` is not valid JSON", param="messages"
        ) from None
    return value if isinstance(value, dict) else {"value": value}


def tool_result_value(content: Any) -> Any:
    """A `tool` message's content: parsed JSON when it is JSON, else its text."""
    text = text_of(content)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def max_output_tokens(request: dict[str, Any]) -> int | None:
    value = request.get("max_completion_tokens")
    if value is None:
        value = request.get("max_tokens")
    if isinstance(value, float) and value.is_integer():  # 100.0 from a client that has only floats
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def stop_list(stop: Any) -> list[str] | None:
    if stop is None:
        return None
    return [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)]


def wants_usage(request: dict[str, Any]) -> bool:
    opts = request.get("stream_options")
    return isinstance(opts, dict) and bool(opts.get("include_usage"))


def new_call_id() -> str:
    return "call_" + os.urandom(12).hex()


def new_completion_id() -> str:
    return "chatcmpl-" + os.urandom(12).hex()


# -- building answers ------------------------------------------------------------------------


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def completion(id_: str, model: str, choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": id_,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        out["usage"] = usage
    return out


def message_choice(index: int, text: str, reasoning: str, calls: list[dict[str, Any]], finish: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish}


def usage(prompt: int, completion_: int, *, cached: int = 0, reasoning: int = 0, total: int = 0) -> dict[str, Any]:
    """OpenAI's usage object; cached and reasoning counts go in the `*_details` objects."""
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_,
        "total_tokens": total or prompt + completion_,
    }
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


class ChunkFactory:
    """Makes the `chat.completion.chunk`s of one translated stream (one id, model, time)."""

    __slots__ = ("id", "model", "created")

    def __init__(self, id_: str, model: str) -> None:
        self.id = id_
        self.model = model
        self.created = int(time.time())

    def delta(self, delta: dict[str, Any], index: int = 0, finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def usage(self, usage_: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_,
        }


# -- errors ----------------------------------------------------------------------------------


def status_error(
    provider: str,
    status: int,
    message: str,
    vendor_type: str | None,
    headers: Any = None,
    param: str | None = None,
) -> UpstreamStatusError:
    """A vendor error as ours. The status decides retry (429/5xx and friends fail over); the
    envelope gets OpenAI's type for the status, the vendor's own type as `code` and the
    field it blamed, when it names one, as `param`."""
    return UpstreamStatusError(
        message or f"HTTP {status}",
        provider=provider,
        upstream_status=status,
        upstream_type=OPENAI_ERROR_TYPES.get(status),
        retry_after=retry_after_seconds(headers),
        code=vendor_type,
        param=param,
    )
