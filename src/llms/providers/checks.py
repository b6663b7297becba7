"""The OpenAI request fields a native dialect translates, checked before it translates: a
wrong-typed field is the client's 400 naming it (`messages[2].content[0].text`), never a
TypeError deep inside a mapping (a 500 with a traceback).

Every native dialect declares its request mapping with `@request_mapping("Anthropic")`: the
fields are checked first, then the mapping runs inside a safety net that turns anything still
escaping it (TypeError, KeyError, …) into a 400 naming the dialect, logged as one line. The
OpenAI pass-through uses none of this: there the upstream judges the shapes, also the ones we
do not know yet.

Only shapes are checked, and only of fields some dialect reads; `None` is always "not sent".
Values are left to each dialect (a role, a part type, a range), except the closed sets OpenAI
itself defines for `tool_choice` and `response_format.type`, which every mapping branches on.
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
MEDIA_FIELDS = {"input_audio": ("data", "format"), "file": ("file_data", "file_id", "filename")}


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
    """Raise InvalidRequest naming the first field whose shape no native dialect can read.
    (On the request path of every translated request: the checks are plain `isinstance` tests,
    and a field's path is spelled out only once it is wrong.)"""
    for key in NUMBERS:
        _number(req.get(key), key)
    for key in WHOLE_NUMBERS:
        _whole(req.get(key), key)
    for key in POSITIVE_WHOLE_NUMBERS:
        _whole(req.get(key), key, minimum=1)
    for key in STRINGS:
        if _bad(req.get(key), str):
            raise _wrong(key, "a string")
    if _bad(req.get("parallel_tool_calls"), bool):
        raise _wrong("parallel_tool_calls", "a boolean")
    if _bad(req.get("stream_options"), dict):
        raise _wrong("stream_options", "an object")
    _stop(req.get("stop"))
    _tools(req.get("tools"))
    _tool_choice(req.get("tool_choice"))
    _response_format(req.get("response_format"))
    messages = req.get("messages")
    if not isinstance(messages, list):
        raise _wrong("messages", "an array of messages")
    for i, message in enumerate(messages):
        check_message(message, i)


def check_message(m: Any, i: int) -> None:
    """`messages[i]`: its content (a string, or parts), tool calls, and the ids that tie them."""
    if not isinstance(m, dict):
        raise _wrong(f"messages[{i}]", "an object")
    if _bad(m.get("role"), str):
        raise _wrong(f"messages[{i}].role", "a string")
    content = m.get("content")
    if isinstance(content, list):
        for j, part in enumerate(content):
            check_part(part, i, j)
    elif content is not None and not isinstance(content, str):
        raise _wrong(f"messages[{i}].content", "a string or an array of content parts")
    for key in ("tool_call_id", "name"):
        if _bad(m.get(key), str):
            raise _wrong(f"messages[{i}].{key}", "a string")
    calls = m.get("tool_calls")
    if _bad(calls, list):
        raise _wrong(f"messages[{i}].tool_calls", "an array of tool calls")
    for k, call in enumerate(calls or ()):
        _tool_call(call, i, k)


def check_part(part: Any, i: int, j: int) -> None:
    """`messages[i].content[j]`: the fields its `type` is read by."""
    if not isinstance(part, dict):
        raise _wrong(f"messages[{i}].content[{j}]", "a content part object (with `type`)")
    kind = part.get("type")
    if _bad(kind, str):
        raise _wrong(f"messages[{i}].content[{j}].type", "a string")
    if kind in TEXT_PARTS:
        if _bad(part.get("text"), str):
            raise _wrong(f"messages[{i}].content[{j}].text", "a string")
    elif kind == "refusal":
        if _bad(part.get("refusal"), str):
            raise _wrong(f"messages[{i}].content[{j}].refusal", "a string")
    elif kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        if not isinstance(url, str):
            raise _wrong(f"messages[{i}].content[{j}].image_url", "an object with a string `url`")
    elif kind in MEDIA_FIELDS:
        spec = part.get(kind)
        if not isinstance(spec, dict) or any(_bad(spec.get(key), str) for key in MEDIA_FIELDS[kind]):
            fields = ", ".join(MEDIA_FIELDS[kind])
            raise _wrong(f"messages[{i}].content[{j}].{kind}", f"an object of strings ({fields})")


def _tool_call(call: Any, i: int, k: int) -> None:
    if not isinstance(call, dict):
        raise _wrong(f"messages[{i}].tool_calls[{k}]", "a tool call object")
    if _bad(call.get("id"), str):
        raise _wrong(f"messages[{i}].tool_calls[{k}].id", "a string")
    fn = call.get("function")
    if _bad(fn, dict):
        raise _wrong(f"messages[{i}].tool_calls[{k}].function", "an object")
    if fn:
        if _bad(fn.get("name"), str):
            raise _wrong(f"messages[{i}].tool_calls[{k}].function.name", "a string")
        if _bad(fn.get("arguments"), (str, dict)):
            raise _wrong(f"messages[{i}].tool_calls[{k}].function.arguments", "a JSON string")


def _tools(tools: Any) -> None:
    if _bad(tools, list):
        raise _wrong("tools", "an array of tools")
    for i, tool in enumerate(tools or ()):
        if not isinstance(tool, dict):
            raise _wrong(f"tools[{i}]", "a tool object")
        kind = tool.get("type")
        if _bad(kind, str):
            raise _wrong(f"tools[{i}].type", "a string")
        if kind not in (None, "function"):
            continue  # other tool types are the dialect's to take or leave
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _wrong(f"tools[{i}].function", "an object with a string `name`")
        if _bad(fn.get("description"), str):
            raise _wrong(f"tools[{i}].function.description", "a string")
        if _bad(fn.get("parameters"), dict):
            raise _wrong(f"tools[{i}].function.parameters", "a JSON Schema object")


def _tool_choice(choice: Any) -> None:
    if choice is None or choice in TOOL_CHOICES:
        return
    if isinstance(choice, dict) and choice.get("type", "function") == "function":
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return
    raise _wrong("tool_choice", '"none", "auto", "required" or {"type": "function", "function": {"name": …}}')


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in RESPONSE_FORMATS:
        raise _wrong("response_format", 'an object with `type` "text", "json_object" or "json_schema"')
    spec = fmt.get("json_schema")
    if _bad(spec, dict):
        raise _wrong("response_format.json_schema", "an object")
    if spec:
        if _bad(spec.get("schema"), dict):
            raise _wrong("response_format.json_schema.schema", "a JSON Schema object")
        for key in ("name", "description"):
            if _bad(spec.get(key), str):
                raise _wrong(f"response_format.json_schema.{key}", "a string")


def _stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise _wrong("stop", "a string or an array of strings")


def _number(value: Any, key: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise _wrong(key, "a number")


def _whole(value: Any, key: str, minimum: int | None = None) -> None:
    if value is None:
        return
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or (minimum is not None and value < minimum):
        raise _wrong(key, "a positive whole number" if minimum == 1 else "a whole number")


def _bad(value: Any, kind: type | tuple[type, ...]) -> bool:
    """Sent (not null) and not of `kind`."""
    return value is not None and not isinstance(value, kind)


def _wrong(param: str, what: str) -> InvalidRequest:
    return InvalidRequest(f"`{param}` must be {what}", param=param)
