"""One conformance suite for every dialect (openai, anthropic, google, ollama): the same client
requests, through the real gateway process and the real OpenAI SDK, against a loopback upstream
replaying each vendor's recorded wire transcripts (tests/transcripts/<dialect>/). Each behaviour
must give the same OpenAI-shaped answer whatever the dialect, plain and streamed (the stream,
accumulated, equals the plain answer), and each dialect must send the recorded request
(`<case>.request.json`). `LLMS_RECORD_REQUESTS=1` rewrites those request files from what the
gateway sent: review the diff before committing it.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import openai
import pytest

from .conftest import CASES
from .transcript_upstream import DIALECTS, PIXEL_PNG_B64, TRANSCRIPTS, TranscriptUpstream

PIXEL_URI = f"data:image/png;base64,{PIXEL_PNG_B64}"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
ASK_WEATHER = {"role": "user", "content": "What is the weather in Paris and Tokyo?"}
CALLS = [
    {"id": "call_paris", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"id": "call_tokyo", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}},
]

# What the client sends for each case (the model is `<dialect>/<case>`).
REQUESTS: dict[str, dict[str, Any]] = {
    "text": {"messages": [{"role": "user", "content": "Say hello."}]},
    "multi_turn": {
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Nice to meet you, Ada!"},
            {"role": "user", "content": "Please remember it."},
            {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
    },
    "image": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": PIXEL_URI}},
                ],
            }
        ]
    },
    "tools": {"messages": [ASK_WEATHER], "tools": [TOOL], "tool_choice": "auto"},
    "tool_result": {
        "messages": [
            ASK_WEATHER,
            {"role": "assistant", "content": None, "tool_calls": CALLS},
            {"role": "tool", "tool_call_id": "call_paris", "content": '{"temp_c": 18, "sky": "sunny"}'},
            {"role": "tool", "tool_call_id": "call_tokyo", "content": "22°C, cloudy"},
        ],
        "tools": [TOOL],
    },
    "length": {"messages": [{"role": "user", "content": "Write a sentence about a fox."}], "max_tokens": 5},
    "content_filter": {"messages": [{"role": "user", "content": "Help me with something harmful."}]},
    "reasoning": {
        "messages": [{"role": "user", "content": "What is 17 * 3?"}],
        "reasoning_effort": "low",
        "max_completion_tokens": 2048,
    },
    "json_schema": {
        "messages": [{"role": "user", "content": "The weather in Paris, as JSON."}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "weather",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "temp_c": {"type": "integer"}},
                    "required": ["city", "temp_c"],
                    "additionalProperties": False,
                },
            },
        },
    },
}
WEATHER_ARGS = [
    ("get_weather", {"city": "Paris", "unit": "celsius"}),
    ("get_weather", {"city": "Tokyo", "unit": "celsius"}),
]


def answer(content: str, finish: str, usage: tuple[int, int], **kw: Any) -> dict[str, Any]:
    prompt, completion = usage
    return {
        "content": content,
        "reasoning": kw.get("reasoning", ""),
        "tool_calls": kw.get("calls", []),
        "finish": finish,
        "usage": {
            "prompt": prompt,
            "completion": completion,
            "total": prompt + completion,
            "cached": kw.get("cached", 0),
            "reasoning": kw.get("reasoning_tokens", 0),
        },
    }


# The one OpenAI-shaped answer every dialect must give for each case.
EXPECTED = {
    "text": answer("Hello! How can I help you today?", "stop", (12, 10)),
    "multi_turn": answer("Your name is Ada.", "stop", (40, 6)),
    "image": answer("The image is a single red pixel.", "stop", (270, 9)),
    "tools": answer("", "tool_calls", (85, 40), calls=WEATHER_ARGS),
    "tool_result": answer("It is 18°C and sunny in Paris, and 22°C and cloudy in Tokyo.", "stop", (140, 22)),
    "length": answer("The quick brown fox jumps", "length", (10, 5)),
    "content_filter": answer("", "content_filter", (15, 0)),
    "reasoning": answer(
        "17 × 3 = 51.",
        "stop",
        (30, 60),
        reasoning="The user asks for 17 * 3. 17 * 3 = 51.",
        cached=8,
        reasoning_tokens=45,
    ),
    # the content is compared as JSON: vendors space it differently
    "json_schema": answer({"city": "Paris", "temp_c": 18}, "stop", (20, 12)),  # type: ignore[arg-type]
}
# What a vendor does not report (the gateway cannot invent it) or has no way to say.
UNREPORTED = {"anthropic": {"reasoning"}, "ollama": {"cached", "reasoning"}}
assert list(EXPECTED) == CASES
NOT_APPLICABLE = {("ollama", "content_filter"): "Ollama has no content filter"}


def expected_for(dialect: str, case: str) -> dict[str, Any]:
    exp = copy.deepcopy(EXPECTED[case])
    for key in UNREPORTED.get(dialect, ()):
        exp["usage"][key] = 0
    return exp


# -- normalising answers ---------------------------------------------------------------------


def _usage(u: Any) -> dict[str, int]:
    prompt_details = getattr(u, "prompt_tokens_details", None)
    completion_details = getattr(u, "completion_tokens_details", None)
    return {
        "prompt": u.prompt_tokens,
        "completion": u.completion_tokens,
        "total": u.total_tokens,
        "cached": (prompt_details.cached_tokens or 0) if prompt_details else 0,
        "reasoning": (completion_details.reasoning_tokens or 0) if completion_details else 0,
    }


def from_completion(r: Any) -> dict[str, Any]:
    choice = r.choices[0]
    message = choice.message
    calls = message.tool_calls or []
    assert all(c.id for c in calls), "every tool call has an id"
    return {
        "content": message.content or "",
        "reasoning": (message.model_extra or {}).get("reasoning_content") or "",
        "tool_calls": [(c.function.name, json.loads(c.function.arguments)) for c in calls],
        "finish": choice.finish_reason,
        "usage": _usage(r.usage),
    }


class StreamResult:
    """A stream as the SDK gave it, folded the way a client would fold it."""

    def __init__(self, chunks: list[Any]) -> None:
        self.chunks = chunks
        self.content = ""
        self.reasoning = ""
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish = None
        self.usage = None
        for chunk in chunks:
            assert chunk.object == "chat.completion.chunk"
            if chunk.usage is not None:
                self.usage = chunk.usage
            for choice in chunk.choices:
                self._add(choice)

    def _add(self, choice: Any) -> None:
        delta = choice.delta
        self.content += delta.content or ""
        self.reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        for tc in delta.tool_calls or ():
            call = self.calls.setdefault(tc.index, {"id": "", "name": "", "args": "", "deltas": 0})
            call["id"] = tc.id or call["id"]
            if tc.function is not None:
                call["name"] += tc.function.name or ""
                if tc.function.arguments:
                    call["args"] += tc.function.arguments
                    call["deltas"] += 1
        self.finish = choice.finish_reason or self.finish

    def normalised(self) -> dict[str, Any]:
        calls = [self.calls[i] for i in sorted(self.calls)]
        assert all(c["id"] for c in calls), "every streamed tool call has an id"
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "tool_calls": [(c["name"], json.loads(c["args"])) for c in calls],
            "finish": self.finish,
            "usage": _usage(self.usage) if self.usage is not None else None,
        }


def stream(client: openai.OpenAI, model: str, **kw: Any) -> StreamResult:
    chunks = []
    with client.chat.completions.create(model=model, stream=True, **kw) as s:
        for chunk in s:
            chunks.append(chunk)
    return StreamResult(chunks)


# -- the behaviours --------------------------------------------------------------------------

ANSWER_CASES = [
    pytest.param(d, c, marks=pytest.mark.skip(reason=NOT_APPLICABLE[(d, c)]) if (d, c) in NOT_APPLICABLE else ())
    for d in DIALECTS
    for c in EXPECTED
]


@pytest.mark.parametrize(("dialect", "case"), ANSWER_CASES)
def test_answer_plain_and_streamed(client, transcripts, dialect, case):
    """text, multi-turn, system prompt, image, tools, tool results, finish reasons, reasoning,
    usage: the plain answer, the accumulated stream and the request sent upstream."""
    expected = expected_for(dialect, case)
    plain = client.chat.completions.create(model=f"{dialect}/{case}", **REQUESTS[case])
    assert as_json(case, from_completion(plain)) == expected
    check_request(transcripts, dialect, case)

    streamed = stream(client, f"{dialect}/{case}", stream_options={"include_usage": True}, **REQUESTS[case])
    assert as_json(case, streamed.normalised()) == expected  # streaming parity
    first, last = streamed.chunks[0], streamed.chunks[-1]
    assert first.choices[0].delta.role == "assistant"
    assert last.choices == [] and last.usage is not None  # include_usage: usage comes last, alone
    assert transcripts.received(dialect, case)[-1].stream


def as_json(case: str, answer: dict[str, Any]) -> dict[str, Any]:
    if case == "json_schema":
        answer["content"] = json.loads(answer["content"])
    return answer


def check_request(up: TranscriptUpstream, dialect: str, case: str) -> None:
    """The upstream request equals the recorded `<case>.request.json` for the dialect."""
    sent = up.received(dialect, case)[-1]
    assert not sent.stream
    path = TRANSCRIPTS / dialect / f"{case}.request.json"
    if os.environ.get("LLMS_RECORD_REQUESTS"):
        path.write_text(json.dumps(sent.body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert sent.body == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_tool_call_arguments_stream_as_deltas(client, dialect):
    """Tool calls stream in OpenAI's chunk form: the first delta of a call carries its id and
    name, arguments follow as deltas (several when the vendor streams them in pieces)."""
    result = stream(client, f"{dialect}/tools", **REQUESTS["tools"])
    assert [c["name"] for c in result.calls.values()] == ["get_weather", "get_weather"]
    assert len({c["id"] for c in result.calls.values()}) == 2
    if dialect in ("openai", "anthropic"):  # Gemini and Ollama send each call whole
        assert all(c["deltas"] >= 2 for c in result.calls.values())
    first_delta = next(ch for ch in result.chunks if ch.choices and ch.choices[0].delta.tool_calls)
    call = first_delta.choices[0].delta.tool_calls[0]
    assert call.index == 0 and call.id and call.function.name == "get_weather" and call.type == "function"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_usage_chunk_unless_asked(client, dialect):
    result = stream(client, f"{dialect}/text", **REQUESTS["text"])
    assert result.content == EXPECTED["text"]["content"]
    assert all(c.usage is None for c in result.chunks)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_client_error_is_the_clients(client, transcripts, dialect, streamed):
    """A vendor's invalid-request error is a 400 with the vendor's message, not failed over."""
    with pytest.raises(openai.BadRequestError) as info:
        if streamed:
            stream(client, f"{dialect}/invalid", **REQUESTS["text"])
        else:
            client.chat.completions.create(model=f"{dialect}/invalid", **REQUESTS["text"])
    err = info.value
    assert err.status_code == 400
    assert err.body["type"] == "invalid_request_error"
    vendor = json.loads(next((TRANSCRIPTS / dialect).glob("invalid.400.json")).read_text())
    message = vendor["error"] if isinstance(vendor["error"], str) else vendor["error"]["message"]
    assert err.body["message"] == message


@pytest.mark.parametrize("dialect", DIALECTS)
def test_overloaded_is_retryable(client, dialect):
    """Overloaded / rate limited (Anthropic 529 overloaded_error, Gemini 429 RESOURCE_EXHAUSTED,
    OpenAI 429, Ollama 503): with no other provider, one aggregate error; with one, failover."""
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=f"{dialect}/overloaded", **REQUESTS["text"])
    assert info.value.status_code in (429, 502)
    assert info.value.body["code"] in ("rate_limit_exceeded", "all_providers_failed")
    assert dialect in info.value.body["message"]

    raw = client.chat.completions.with_raw_response.create(model=f"{dialect}/failover", **REQUESTS["text"])
    tried = raw.headers["x-llms-tried"].split(",")
    assert tried[0] == dialect and tried[-1] == "backup"  # the dialect's provider (maybe retried), then backup
    assert raw.parse().choices[0].message.content == EXPECTED["text"]["content"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_stream_error_before_content_fails_over(client, dialect):
    """An error event before any content (Anthropic `event: error`, a Gemini error event, an
    OpenAI error frame, an Ollama error line) is still before the commit point: failover."""
    result = stream(client, f"{dialect}/failover-stream", **REQUESTS["text"])
    assert result.content == EXPECTED["text"]["content"]
    assert result.finish == "stop"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", ["midstream_error", "truncated"])
def test_stream_failure_after_content_is_in_band(client, dialect, case):
    """After content has reached the client, a vendor error or a stream cut short arrives as an
    in-band error event, never as a clean end of stream."""
    got = []
    with pytest.raises(openai.APIError) as info:
        with client.chat.completions.create(model=f"{dialect}/{case}", stream=True, **REQUESTS["text"]) as s:
            for chunk in s:
                got.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(got).startswith("Once upon")
    assert not isinstance(info.value, openai.APIStatusError)  # in-band, after a 200
