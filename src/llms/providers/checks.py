"""The OpenAI request fields a native dialect translates, checked before it translates: a
wrong-typed field is the client's 400 naming it (`messages[2].content[0].text`), never a
TypeError deep inside a mapping (a 500 with a traceback).

Every native dialect declares its request mapping with `@request_mapping("Anthropic")`: the
fields are checked first, then the mapping runs inside a safety net that turns anything still
escaping it (TypeError, KeyError, …) into a 400 naming the dialect, logged as one line. The
OpenAI pass-through uses none of this: there the upstream judges the shapes, also the ones we
do not know yet.

Only shapes are checked, and only of fields some dialect reads; `None` is always "not sent".
Which values a vendor supports (a role, a part type, a range) stays with each dialect.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson

from ..core.errors import InvalidRequest

log = logging.getLogger("llms.providers")

P = ParamSpec("P")
R = TypeVar("R")

NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
WHOLE_NUMBERS = ("top_k", "seed")
POSITIVE_WHOLE_NUMBERS = ("n", "max_tokens", "max_completion_tokens")
STRINGS = ("reasoning_effort", "user")
TOOL_CHOICES = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
TEXT_PARTS = (None, "text", "input_text")


def request_mapping(
    dialect: str,
) -> Callable[[Callable[Concatenate[dict[str, Any], P], R]], Callable[Concatenate[dict[str, Any], P], R]]:
    """Decorate a dialect's `to_<vendor>(request, …)`: check the request's fields, then
    translate; whatever a mapping still trips over is a 400 naming the dialect, not a 500."""

    def wrap(mapping: Callable[Concatenate[dict[str, Any], P], R]) -> Callable[Concatenate[dict[str, Any], P], R]:
        @functools.wraps(mapping)
        def checked(request: dict[str, Any], *args: P.args, **kwargs: P.kwargs) -> R:
            check_request(request)
            try:
                return mapping(request, *args, **kwargs)
            except (TypeError, KeyError, AttributeError, IndexError, ValueError, RecursionError) as e:
                # A shape check is missing: say so in one line (repr: no forged log lines).
                log.warning("%s request mapping failed on a field's shape: %r", dialect, e)
                reason = "it is nested too deeply" if isinstance(e, RecursionError) else type(e).__name__
                raise InvalidRequest(
                    f"This request cannot be translated for the {dialect} API: a field has a shape it does not "
                    f"take ({reason})",
                    code="untranslatable_request",
                ) from None

        return checked

    return wrap


def encode_request(body: Any) -> bytes:
    """The JSON bytes sent upstream. orjson reads 1024 levels of nesting but writes at most
    254: a request nested deeper (a JSON body the gateway accepted) is a 400, not a TypeError."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as e:
        raise InvalidRequest(f"The request cannot be forwarded: {e} (JSON nested too deeply?)") from None


def check_request(req: dict[str, Any]) -> None:
    """Raise InvalidRequest naming the first field whose shape no native dialect can read."""
    for key in NUMBERS:
        _number(req.get(key), key)
    for key in WHOLE_NUMBERS:
        _whole(req.get(key), key)
    for key in POSITIVE_WHOLE_NUMBERS:
        _whole(req.get(key), key, minimum=1)
    for key in STRINGS:
        _optional(req.get(key), str, key, "a string")
    _optional(req.get("parallel_tool_calls"), bool, "parallel_tool_calls", "a boolean")
    _optional(req.get("stream_options"), dict, "stream_options", "an object")
    _stop(req.get("stop"))
    _tools(req.get("tools"))
    _tool_choice(req.get("tool_choice"))
    _response_format(req.get("response_format"))
    messages = req.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("`messages` must be an array of messages", param="messages")
    for i, message in enumerate(messages):
        check_message(message, f"messages[{i}]")


def check_message(m: Any, at: str) -> None:
    if not isinstance(m, dict):
        raise InvalidRequest(f"`{at}` must be an object", param=at)
    _optional(m.get("role"), str, f"{at}.role", "a string")
    content = m.get("content")
    if isinstance(content, list):
        for j, part in enumerate(content):
            check_part(part, f"{at}.content[{j}]")
    elif content is not None and not isinstance(content, str):
        raise InvalidRequest(f"`{at}.content` must be a string or an array of content parts", param=f"{at}.content")
    for key in ("tool_call_id", "name"):
        _optional(m.get(key), str, f"{at}.{key}", "a string")
    calls = m.get("tool_calls")
    _optional(calls, list, f"{at}.tool_calls", "an array of tool calls")
    for k, call in enumerate(calls or ()):
        _tool_call(call, f"{at}.tool_calls[{k}]")


def check_part(part: Any, at: str) -> None:
    """One content part: the fields its `type` is read by."""
    if not isinstance(part, dict):
        raise InvalidRequest(f"`{at}` must be a content part object (with `type`)", param=at)
    kind = part.get("type")
    _optional(kind, str, f"{at}.type", "a string")
    if kind in TEXT_PARTS:
        _optional(part.get("text"), str, f"{at}.text", "a string")
    elif kind == "refusal":
        _optional(part.get("refusal"), str, f"{at}.refusal", "a string")
    elif kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        if not isinstance(url, str):
            raise InvalidRequest(f"`{at}.image_url` must be an object with a string `url`", param=f"{at}.image_url")
    elif kind == "input_audio":
        _object_of_strings(part.get("input_audio"), ("data", "format"), f"{at}.input_audio")
    elif kind == "file":
        _object_of_strings(part.get("file"), ("file_data", "file_id", "filename"), f"{at}.file")


def _tool_call(call: Any, at: str) -> None:
    if not isinstance(call, dict):
        raise InvalidRequest(f"`{at}` must be a tool call object", param=at)
    _optional(call.get("id"), str, f"{at}.id", "a string")
    fn = call.get("function")
    _optional(fn, dict, f"{at}.function", "an object")
    if fn:
        _optional(fn.get("name"), str, f"{at}.function.name", "a string")
        args = fn.get("arguments")
        if args is not None and not isinstance(args, (str, dict)):
            raise InvalidRequest(f"`{at}.function.arguments` must be a JSON string", param=f"{at}.function.arguments")


def _tools(tools: Any) -> None:
    _optional(tools, list, "tools", "an array of tools")
    for i, tool in enumerate(tools or ()):
        at = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"`{at}` must be a tool object", param=at)
        kind = tool.get("type")
        _optional(kind, str, f"{at}.type", "a string")
        if kind not in (None, "function"):
            continue  # other tool types are the dialect's to take or leave
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise InvalidRequest(f"`{at}.function` must be an object with a string `name`", param=f"{at}.function")
        _optional(fn.get("description"), str, f"{at}.function.description", "a string")
        _optional(fn.get("parameters"), dict, f"{at}.function.parameters", "a JSON Schema object")


def _tool_choice(choice: Any) -> None:
    if choice is None or choice in TOOL_CHOICES:
        return
    if isinstance(choice, dict) and choice.get("type", "function") == "function":
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return
    raise InvalidRequest(
        '`tool_choice` must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}',
        param="tool_choice",
    )


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in RESPONSE_FORMATS:
        raise InvalidRequest(
            '`response_format` must be an object with `type` "text", "json_object" or "json_schema"',
            param="response_format",
        )
    spec = fmt.get("json_schema")
    _optional(spec, dict, "response_format.json_schema", "an object")
    if spec:
        _optional(spec.get("schema"), dict, "response_format.json_schema.schema", "a JSON Schema object")
        _optional(spec.get("name"), str, "response_format.json_schema.name", "a string")
        _optional(spec.get("description"), str, "response_format.json_schema.description", "a string")


def _stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InvalidRequest("`stop` must be a string or an array of strings", param="stop")


def _number(value: Any, key: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InvalidRequest(f"`{key}` must be a number", param=key)


def _whole(value: Any, key: str, minimum: int | None = None) -> None:
    if value is None:
        return
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or (minimum is not None and value < minimum):
        kind = "a positive whole number" if minimum == 1 else "a whole number"
        raise InvalidRequest(f"`{key}` must be {kind}", param=key)


def _optional(value: Any, kind: type | tuple[type, ...], at: str, what: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise InvalidRequest(f"`{at}` must be {what}", param=at)


def _object_of_strings(value: Any, keys: tuple[str, ...], at: str) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest(f"`{at}` must be an object", param=at)
    for key in keys:
        _optional(value.get(key), str, f"{at}.{key}", "a string")
