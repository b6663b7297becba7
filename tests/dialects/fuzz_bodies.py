"""Hypothesis strategies for chat request bodies: OpenAI-shaped where a dialect reads a field,
with any JSON value (wrong type, wrong shape, null) in a field's place at one of three rates —
never, one field in ten, one in two — so the fuzz both reaches deep into each dialect's mapping
with well-typed odd values and tries every check with wrong ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .transcript_upstream import PIXEL_PNG_B64

Strategy = st.SearchStrategy[Any]
Either = Callable[[Strategy], Strategy]

# Any JSON value a client can send (orjson reads 64-bit integers and finite floats).
json_values: Strategy = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def wrong_one_in(n: int) -> Either:
    """`either(good)`: the right shape, or any JSON value one time in `n` (0: never)."""
    if n == 0:
        return lambda good: good
    return lambda good: st.integers(0, n - 1).flatmap(lambda i: json_values if i == n - 1 else good)


def obj(required: dict[str, Strategy], optional: dict[str, Strategy] | None = None) -> Strategy:
    return st.fixed_dictionaries(required, optional=optional or {})


# Never a routable host: an image URL must not make anything leave the machine.
URLS = st.sampled_from(
    [
        f"data:image/png;base64,{PIXEL_PNG_B64}",
        "data:text/plain,hi%20there",
        "data:image/png",
        "http://127.0.0.1:9/x.png",
    ]
)
PART_TYPES = st.sampled_from(["text", "image_url", "input_audio", "file", "refusal", "input_text", "video"])
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool"])
ARGUMENTS = st.sampled_from(['{"city": "Paris"}', "", "[1, 2]", "not json", "null"])
EFFORTS = st.sampled_from(["none", "minimal", "low", "medium", "high"])


def messages(either: Either) -> Strategy:
    part = obj(
        {"type": either(PART_TYPES)},
        {
            "text": either(st.text(max_size=12)),
            "refusal": either(st.text(max_size=12)),
            "image_url": either(obj({"url": either(URLS)}, {"detail": json_values}) | URLS),
            "input_audio": either(obj({"data": either(st.just("AAAA")), "format": either(st.just("wav"))})),
            "file": either(obj({"file_data": either(URLS)})),
            "cache_control": json_values,
        },
    )
    function_call = obj({"name": either(st.text(max_size=8)), "arguments": either(ARGUMENTS)})
    tool_call = obj(
        {"id": either(st.text(max_size=8)), "type": either(st.just("function")), "function": either(function_call)},
        {"extra_content": either(obj({"google": either(obj({"thought_signature": json_values}))}))},
    )
    message = obj(
        {"role": either(ROLES)},
        {
            "content": either(st.none() | st.text(max_size=20) | st.lists(either(part), max_size=3)),
            "tool_calls": either(st.lists(either(tool_call), max_size=2)),
            "tool_call_id": either(st.text(max_size=8)),
            "name": either(st.text(max_size=8)),
        },
    )
    return st.lists(either(message), min_size=1, max_size=4)


def fields(either: Either) -> dict[str, Strategy]:
    """Every optional field some dialect reads, by name."""
    schema = either(obj({"type": either(st.just("object"))}, {"properties": json_values, "items": json_values}))
    function = obj({"name": either(st.text(max_size=8))}, {"description": json_values, "parameters": schema})
    tool = obj({"type": either(st.sampled_from(["function", "web_search"])), "function": either(function)})
    choice = st.sampled_from(["none", "auto", "required"]) | obj({"type": st.just("function"), "function": function})
    response_format = obj(
        {"type": either(st.sampled_from(["text", "json_object", "json_schema"]))},
        {"json_schema": either(obj({"name": either(st.text(max_size=8))}, {"schema": schema}))},
    )
    number = either(st.none() | st.floats(min_value=0, max_value=2) | st.integers(min_value=0, max_value=5))
    whole = either(st.integers(min_value=1, max_value=5000) | st.floats(min_value=1, max_value=9).map(round))
    return {
        "temperature": number,
        "top_p": number,
        "top_k": whole,
        "seed": whole,
        "n": whole,
        "presence_penalty": number,
        "frequency_penalty": number,
        "max_tokens": whole,
        "max_completion_tokens": whole,
        "stop": either(st.text(max_size=4) | st.lists(st.text(max_size=4), max_size=3)),
        "tools": either(st.lists(either(tool), max_size=2)),
        "tool_choice": either(choice),
        "parallel_tool_calls": either(st.booleans()),
        "response_format": either(response_format),
        "reasoning_effort": either(EFFORTS | st.text(max_size=4)),
        "enable_thinking": either(st.booleans()),
        "stream_options": either(obj({"include_usage": either(st.booleans())})),
        "user": either(st.text(max_size=8)),
        "safety_settings": json_values,
        "thinking_config": json_values,
        "logit_bias": json_values,
        "metadata": json_values,
        "some_future_param": json_values,
    }


def bodies(models: Strategy, stream: Strategy | None = None) -> Strategy:
    """A chat request body, at one of the three rates of wrong shapes; now and then not even
    an object."""
    shaped = []
    for n in (0, 10, 2):
        either = wrong_one_in(n)
        required = {"model": models, "messages": either(messages(either))}
        optional = {**fields(either), "stream": stream if stream is not None else either(st.booleans())}
        shaped.append(obj(required, optional))
    return st.one_of(*shaped, json_values)
