"""Anthropic Messages ↔ internal chat translation, judged by the official `anthropic` SDK."""

from __future__ import annotations

import anthropic
import orjson
import pytest

from llms.core.errors import AllProvidersFailed, GatewayError, InvalidRequest, UpstreamStatusError, UpstreamTimeout
from llms.server.messages.count import estimate_tokens
from llms.server.messages.errors import error_body, error_event, status_and_type
from llms.server.messages.request import check, to_chat
from llms.server.messages.response import to_message
from llms.server.messages.stream import MessageStream

from .sdk_bytes import THINKING_CHUNKS, TOOL_CHUNKS, anthropic_client, chunk, encode_all

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}}


def test_request_maps_every_field():
    body = {
        "model": "claude",
        "max_tokens": 300,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather? "}, IMAGE]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }
    check(body)
    req = to_chat(body)
    assert req["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    }
    user = req["messages"][1]
    assert user["content"][0] == {"type": "text", "text": "Weather? "}
    assert user["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}}
    assistant = req["messages"][2]
    assert assistant["content"] == "Checking." and assistant["reasoning_content"] == "hmm"
    assert assistant["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    ]
    assert req["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    assert req["messages"][4] == {"role": "user", "content": "And tomorrow?"}
    assert req["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}, "description": "Weather"},
        }
    ]
    assert req["tool_choice"] == "required" and req["parallel_tool_calls"] is False
    assert req["stop"] == ["END"] and req["max_tokens"] == 300
    assert (req["temperature"], req["top_p"], req["top_k"]) == (0.5, 0.9, 40)
    assert req["reasoning_effort"] == "medium" and req["user"] == "u-1" and req["stream"] is True


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 5, "messages": []}, "model"),
        ({"model": "m", "messages": []}, "max_tokens"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}, "messages.0"),
    ],
)
def test_check_refuses_with_the_field(body, param):
    with pytest.raises(InvalidRequest) as e:
        check(body)
    assert e.value.param == param


def test_output_config_maps_to_effort_and_json_schema():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max", "format": {"type": "json_schema", "schema": schema}},
    }
    req = to_chat(body)
    assert req["reasoning_effort"] == "high"
    assert req["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def test_server_tools_are_refused_clearly():
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    }
    with pytest.raises(InvalidRequest, match="server tool"):
        to_chat(body)


def test_system_turns_between_messages():
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "Agents: a, b"}]},
        ],
    }
    check(body)
    assert to_chat(body)["messages"][1] == {"role": "system", "content": "Agents: a, b"}


def test_tool_error_results_say_so():
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": True}],
            }
        ],
    }
    assert to_chat(body)["messages"] == [{"role": "tool", "tool_call_id": "t", "content": "Error: boom"}]


def test_answer_parses_in_the_sdk(upstream):
    result = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "Hi",
                    "reasoning_content": "plan",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}},
    }
    message = to_message(result, "alias")
    client = anthropic_client(upstream, orjson.dumps(message), content_type="application/json")
    got = client.messages.create(model="alias", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert [b.type for b in got.content] == ["thinking", "text", "tool_use"]
    assert got.content[2].input == {"a": 1} and got.stop_reason == "tool_use"
    assert (got.usage.input_tokens, got.usage.cache_read_input_tokens, got.usage.output_tokens) == (6, 4, 3)


def _stream_bytes(chunks):
    s = MessageStream("alias")
    return encode_all(s.feed, s.close, chunks)


def test_stream_text_and_thinking_in_the_sdk(upstream):
    client = anthropic_client(upstream, _stream_bytes(THINKING_CHUNKS))
    with client.messages.stream(model="alias", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Thinking." and final.content[1].text == "Hello world"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (10, 7, 2)


def test_stream_exact_event_sequence():
    raw = _stream_bytes(
        [chunk({"content": "Hi"}), chunk(finish="stop"), chunk(usage={"prompt_tokens": 3, "completion_tokens": 1})]
    )
    names = [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_stream_tools_in_the_sdk(upstream):
    client = anthropic_client(upstream, _stream_bytes(TOOL_CHUNKS))
    with client.messages.stream(model="alias", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[1].name == "get_weather" and final.content[1].input == {"city": "Paris"}
    assert final.content[2].id == "call_2" and final.content[2].input == {}
    assert final.stop_reason == "tool_use"


CASES = [
    (InvalidRequest("bad"), 400, anthropic.BadRequestError, "invalid_request_error"),
    (
        GatewayError("no key", status=401, type="authentication_error"),
        401,
        anthropic.AuthenticationError,
        "authentication_error",
    ),
    (GatewayError("no", status=403), 403, anthropic.PermissionDeniedError, "permission_error"),
    (GatewayError("none", status=404), 404, anthropic.NotFoundError, "not_found_error"),
    (GatewayError("big", status=413), 413, anthropic.ContentTooLargeError, "request_too_large"),
    (GatewayError("slow down", status=429), 429, anthropic.RateLimitError, "rate_limit_error"),
    (GatewayError("oops", status=500), 500, anthropic.InternalServerError, "api_error"),
    (UpstreamTimeout("late", provider="p"), 504, anthropic.GatewayTimeoutError, "timeout_error"),
]


def _overloaded() -> AllProvidersFailed:
    errors = [UpstreamStatusError("busy", provider=p, upstream_status=s) for p, s in (("a", 529), ("b", 503))]
    return AllProvidersFailed("m", errors)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "status", "exc", "type_"), [*CASES, (_overloaded(), 529, anthropic.OverloadedError, "overloaded_error")]
)
def test_errors_raise_the_sdk_exception(upstream, error, status, exc, type_):
    assert status_and_type(error) == (status, type_)
    code, body = error_body(error, "req_1")
    client = anthropic_client(upstream, body, status=code, content_type="application/json")
    with pytest.raises(exc) as e:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == type_


def test_in_band_error_event_raises_in_the_sdk(upstream):
    s = MessageStream("alias")
    raw = (s.feed(chunk({"content": "partial"})) or b"") + error_event(_overloaded())
    client = anthropic_client(upstream, raw)
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as st:
            for _ in st:
                pass
    assert "overloaded_error" in str(e.value.body)


def test_count_tokens_estimate():
    small = estimate_tokens({"messages": [{"role": "user", "content": "Hello there"}]})
    big = estimate_tokens({"system": "x" * 4000, "messages": [{"role": "user", "content": [IMAGE]}]})
    assert 1 <= small < 20 and big > 1000 + 1568
