"""End to end with the official OpenAI SDK (sync and async) against `llms --serve` in front of
the fake upstream: shapes, streaming, tool calls, models, and the SDK's error classes."""

from __future__ import annotations

import json
import time
import warnings

import openai
import orjson
import pydantic
import pytest
from openai.types.chat import ChatCompletion
from openai.types.shared import Metadata

from . import fake_upstream as fu

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALL = {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=20)


@pytest.fixture
def aclient(gateway):
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=20)


def test_non_streamed_completion(client, upstream):
    upstream.on("primary", "p-chat", fu.reply("Paris is the capital."))
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "Capital of France?"}]
    )
    r = raw.parse()
    assert r.choices[0].message.content == "Paris is the capital."
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert raw.headers["x-llms-provider"] == "primary"
    assert raw.headers["x-llms-provider-model"] == "p-chat"
    assert raw.headers["x-llms-pricing"] == "0.000001/0.000002"
    extra = r.model_extra["metadata"]
    assert extra["pricing"] == "0.000001/0.000002" and extra["duration"].isdigit()  # ms, as a string
    sent = upstream.received("primary")[-1]
    assert sent.path == "/primary/v1/chat/completions"
    assert sent.body["model"] == "p-chat"


class City(pydantic.BaseModel):
    city: str


def test_metadata_fits_openais_schema(client, upstream):
    """OpenAI's `metadata` is a string → string map: llms.py's `duration` and `pricing` are
    strings in it, so strict validation and the SDK's `parse` take the answer without a warning."""
    upstream.on("primary", "p-chat", fu.reply('{"city": "Paris"}'))
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "?"}])
    data = json.loads(raw.text)
    pydantic.TypeAdapter(Metadata).validate_python(data["metadata"], strict=True)
    assert set(data["metadata"]) == {"duration", "pricing"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ChatCompletion.model_validate(data, strict=True).model_dump()
        raw.parse().model_dump_json()
        parsed = client.chat.completions.parse(
            model="chat", messages=[{"role": "user", "content": "Where?"}], response_format=City
        )
    assert parsed.choices[0].message.parsed == City(city="Paris")
    with warnings.catch_warnings(record=True) as caught:  # (`parsed` itself warns: an SDK generics quirk)
        warnings.simplefilter("always")
        parsed.model_dump()
    assert not [w for w in caught if "metadata" in str(w.message)]


def test_the_upstreams_own_metadata_survives(client, upstream):
    """An upstream that echoes the request's `metadata` (OpenAI does, with `store`) keeps its
    keys; llms.py's own two are merged over them."""
    answer = fu.completion("Hi", "p-chat")
    answer["metadata"] = {"trace": "abc", "duration": "upstream's"}
    upstream.on("primary", "p-chat", fu.raw_body(orjson.dumps(answer)))
    r = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "hi"}], metadata={"trace": "abc"}, store=True
    )
    metadata = r.model_extra["metadata"]
    assert metadata["trace"] == "abc" and metadata["duration"].isdigit()
    assert metadata["pricing"] == "0.000001/0.000002"


def test_streamed_completion_arrives_in_chunks(client, upstream):
    upstream.on("primary", "p-chat", fu.stream(["One", " two", " three"], delay=0.2))
    stamps, texts = [], []
    with client.chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as s:
        for ev in s:
            if ev.choices and ev.choices[0].delta.content:
                stamps.append(time.monotonic())
                texts.append(ev.choices[0].delta.content)
            last = ev
    assert "".join(texts) == "One two three"
    # chunks 200 ms apart upstream must not be coalesced by the gateway
    assert stamps[-1] - stamps[0] > 0.3
    assert last.usage is not None and last.usage.completion_tokens == 3
    assert upstream.received("primary")[-1].body["stream_options"] == {"include_usage": True}


def test_tool_calls_plain_and_streamed(client, upstream):
    upstream.on("primary", "p-chat", fu.reply("", tool_calls=[CALL], finish="tool_calls"))
    r = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "weather?"}], tools=[TOOL], tool_choice="auto"
    )
    call = r.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_abc123",
        "get_weather",
        {"city": "Paris"},
    )
    assert upstream.received("primary")[-1].body["tools"] == [TOOL]

    upstream.on("primary", "p-chat", fu.stream([], tool_calls=[CALL]))
    args, finish = "", None
    for ev in client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "w?"}], tools=[TOOL], stream=True
    ):
        for tc in (ev.choices[0].delta.tool_calls or []) if ev.choices else []:
            args += tc.function.arguments or ""
        if ev.choices and ev.choices[0].finish_reason:
            finish = ev.choices[0].finish_reason
    assert json.loads(args) == {"city": "Paris"} and finish == "tool_calls"


async def test_async_client_stream_and_plain(aclient, upstream):
    r = await aclient.chat.completions.create(model="only-secondary", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "Hello from secondary"
    pieces = []
    async for ev in await aclient.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "hi"}], stream=True
    ):
        if ev.choices and ev.choices[0].delta.content:
            pieces.append(ev.choices[0].delta.content)
    assert "".join(pieces) == "Hello there!"


def test_models_list_and_retrieve(client):
    ids = [m.id for m in client.models.list()]
    # config order, one entry per alias; disabled and key-less providers contribute nothing of their own
    assert ids == ["chat", "shared", "primary-only", "only-secondary"]
    m = client.models.retrieve("only-secondary")
    assert (m.id, m.owned_by, m.object) == ("only-secondary", "secondary", "model")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("off-only")


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (413, openai.APIStatusError),
        (422, openai.UnprocessableEntityError),
    ],
)
def test_client_errors_from_upstream_are_passed_through(client, upstream, status, exc):
    upstream.on("primary", "p-chat", fu.error(status, "bad thing: max_tokens too large", type="invalid_request_error"))
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == status
    assert "max_tokens too large" in info.value.message
    assert upstream.received("secondary") == []  # no failover on the client's own error


@pytest.mark.parametrize(
    ("script", "exc", "status"),
    [
        (
            fu.error(503, "overloaded"),
            openai.BadGatewayError if hasattr(openai, "BadGatewayError") else openai.InternalServerError,
            502,
        ),
        (fu.error(429, "slow down", headers={"Retry-After": "7"}), openai.RateLimitError, 429),
        (fu.error(401, "invalid key"), openai.InternalServerError, 502),
    ],
)
def test_all_failed_statuses(client, upstream, script, exc, status):
    upstream.on("primary", "shared", script)
    upstream.on("secondary", "shared", script)
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="shared", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == status
    assert "primary" in info.value.message and "secondary" in info.value.message
    assert "sk-" not in info.value.message
    if status == 429:
        assert info.value.response.headers["retry-after"] == "7"


def test_gateway_errors_map_to_sdk_classes(client, gateway):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat", messages=[])
    assert info.value.param == "messages"
    big = "x" * (1024 * 1024 + 10)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": big}])
    assert info.value.status_code == 413


def test_in_band_stream_error_raises_in_sdk(client, upstream):
    upstream.on("primary", "p-chat", fu.stream(["a", "b", "c", "d"], cut_after=2))
    got = []
    with pytest.raises(openai.APIError):
        for ev in client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            if ev.choices and ev.choices[0].delta.content:
                got.append(ev.choices[0].delta.content)
    assert got == ["a", "b"]
