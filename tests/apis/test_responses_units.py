"""OpenAI Responses ↔ internal chat translation, judged by the official `openai` SDK."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel

from llms.core.errors import InvalidRequest, UpstreamConnectionError
from llms.server.responses.request import check, to_chat
from llms.server.responses.response import to_response
from llms.server.responses.stream import ResponseStream

from .sdk_bytes import THINKING_CHUNKS, TOOL_CHUNKS, USAGE, chunk, encode_all, openai_client


class City(BaseModel):
    name: str
    country: str


def test_request_maps_every_field():
    body = {
        "model": "gpt",
        "instructions": "Be brief.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Weather? "},
                    {"type": "input_image", "image_url": "data:image/png;base64,AA"},
                ],
            },
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"role": "developer", "content": "Answer in French."},
        ],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "W",
                "parameters": {"type": "object"},
                "strict": True,
            }
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "text": {"format": {"type": "json_schema", "name": "city", "schema": {"type": "object"}, "strict": True}},
        "reasoning": {"effort": "low"},
        "max_output_tokens": 200,
        "temperature": 0.2,
        "top_p": 0.8,
        "store": False,
        "stream": True,
    }
    check(body)
    req = to_chat(body)
    assert req["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather? "},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "system", "content": "Answer in French."},
    ]
    assert req["tools"][0]["function"] == {
        "name": "get_weather",
        "parameters": {"type": "object"},
        "description": "W",
        "strict": True,
    }
    assert req["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert req["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": {"type": "object"}, "strict": True},
    }
    assert (req["reasoning_effort"], req["max_tokens"], req["temperature"], req["top_p"]) == ("low", 200, 0.2, 0.8)
    assert req["stream"] is True


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"store": True}, "store"),
        ({"input": []}, "input"),
    ],
)
def test_stateful_requests_are_a_clear_400(extra, param):
    with pytest.raises(InvalidRequest) as e:
        check({"model": "m", "input": "hi", **extra})
    assert e.value.param == param and e.value.status == 400


NAMESPACE = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "tools": [{"type": "function", "name": "close_agent", "parameters": {"type": "object"}}],
}


def test_builtin_tools_are_left_out_and_namespaces_flattened():
    req = to_chat({"model": "m", "input": "hi", "tools": [{"type": "web_search"}, NAMESPACE], "tool_choice": "auto"})
    assert [t["function"]["name"] for t in req["tools"]] == ["close_agent"] and req["tool_choice"] == "auto"
    alone = to_chat({"model": "m", "input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "auto"})
    assert "tools" not in alone and "tool_choice" not in alone


def test_namespaced_calls_name_their_namespace(upstream):
    body = {"model": "alias", "input": "x", "tools": [NAMESPACE]}
    call = chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "close_agent", "arguments": "{}"}}]})
    s = ResponseStream(body, "alias")
    raw = encode_all(s.feed, s.close, [call, chunk(finish="tool_calls")])
    final = list(openai_client(upstream, raw).responses.create(model="a", input="x", stream=True))[-1].response
    assert final.output[0].namespace == "multi_agent_v1"


def test_answer_parses_in_the_sdk(upstream):
    result = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": '{"name": "Paris", "country": "France"}',
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": USAGE,
    }
    body = {"model": "alias", "input": "x"}
    client = openai_client(upstream, orjson.dumps(to_response(result, body, "alias")), content_type="application/json")
    got = client.responses.create(model="alias", input="x")
    assert got.status == "completed" and got.output_text == '{"name": "Paris", "country": "France"}'
    assert [o.type for o in got.output] == ["message", "function_call"]
    assert got.output[1].call_id == "c1" and got.output[1].arguments == '{"a":1}'
    assert (got.usage.input_tokens, got.usage.output_tokens, got.usage.total_tokens) == (12, 7, 19)
    parsed = client.responses.parse(model="alias", input="x", text_format=City)
    assert parsed.output_parsed == City(name="Paris", country="France")


def _stream_bytes(chunks, body=None):
    s = ResponseStream(body or {"model": "alias", "input": "x"}, "alias")
    return encode_all(s.feed, s.close, chunks)


def test_stream_text_and_reasoning_in_the_sdk(upstream):
    client = openai_client(upstream, _stream_bytes(THINKING_CHUNKS))
    with client.responses.stream(model="alias", input="x") as s:
        kinds = [e.type for e in s]
        final = s.get_final_response()
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert "response.reasoning_text.delta" in kinds and kinds.count("response.output_text.delta") == 2
    assert kinds[-1] == "response.completed"
    assert final.output_text == "Hello world" and [o.type for o in final.output] == ["reasoning", "message"]
    assert final.usage.input_tokens_details.cached_tokens == 2
    seqs = [
        e.sequence_number
        for e in openai_client(upstream, _stream_bytes(THINKING_CHUNKS)).responses.create(
            model="a", input="x", stream=True
        )
    ]
    assert seqs == list(range(len(seqs)))


def test_stream_tools_in_the_sdk(upstream):
    client = openai_client(upstream, _stream_bytes(TOOL_CHUNKS))
    with client.responses.stream(model="alias", input="x") as s:
        deltas = [e.delta for e in s if e.type == "response.function_call_arguments.delta"]
        final = s.get_final_response()
    assert deltas == ['{"city": ', '"Paris"}', "{}"]
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [
        ("call_1", "get_weather", '{"city": "Paris"}'),
        ("call_2", "get_time", "{}"),
    ]


def test_stream_parse_json_schema(upstream):
    chunks = [
        chunk({"content": '{"name": "Paris", '}),
        chunk({"content": '"country": "France"}'}),
        chunk(finish="stop"),
    ]
    client = openai_client(upstream, _stream_bytes(chunks))
    with client.responses.stream(model="alias", input="x", text_format=City) as s:
        for _ in s:
            pass
        final = s.get_final_response()
    assert final.output_parsed == City(name="Paris", country="France")


def test_length_is_incomplete(upstream):
    raw = _stream_bytes([chunk({"content": "Hi"}), chunk(finish="length")])
    events = list(openai_client(upstream, raw).responses.create(model="a", input="x", stream=True))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_in_band_failure(upstream):
    s = ResponseStream({"model": "a", "input": "x"}, "a")
    raw = (s.feed(chunk({"content": "partial"})) or b"") + s.fail(UpstreamConnectionError("cut", provider="p"))
    events = list(openai_client(upstream, raw).responses.create(model="a", input="x", stream=True))
    assert [e.type for e in events][-2:] == ["error", "response.failed"]
    assert events[-1].response.status == "failed" and events[-2].message == "cut"
