"""`POST /v1/messages` through the real gateway: the official `anthropic` SDK and LangChain's
ChatAnthropic against OpenAI-compatible fake upstreams (translated) and the Anthropic dialect
(native pass-through); every reachable error as the SDK's exception; stream safety."""

from __future__ import annotations

import anthropic
import pytest

from ..fake_upstream import chunk, error, hang, raw_body, sse, stream
from .conftest import transcript

USER = [{"role": "user", "content": "Hi"}]
WEATHER = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}


@pytest.fixture
def client(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="unused", base_url=gateway.url, max_retries=0)


def test_create_translated(client, upstream):
    got = client.messages.create(
        model="gpt",
        max_tokens=50,
        system="Be brief.",
        messages=USER,
        stop_sequences=["END"],
        extra_body={"temperature": 0.3},  # (this SDK has no sampling parameters of its own any more)
    )
    assert got.content[0].text == "Hello from primary" and got.stop_reason == "end_turn"
    assert got.model == "gpt" and got.usage.input_tokens == 5
    sent = upstream.received("primary")[-1].body
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (sent["max_tokens"], sent["stop"], sent["temperature"], sent["model"]) == (50, ["END"], 0.3, "up-gpt")


def test_stream_text(client):
    with client.messages.stream(model="gpt", max_tokens=50, messages=USER) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello there!" and final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 4)


def test_stream_tools(client, upstream):
    call = {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    upstream.on("primary", "up-gpt", stream(pieces=[], tool_calls=[call]))
    with client.messages.stream(
        model="gpt", max_tokens=50, messages=USER, tools=[WEATHER], tool_choice={"type": "any"}
    ) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use"
    block = final.content[0]
    assert (block.type, block.id, block.name, block.input) == ("tool_use", "call_9", "get_weather", {"city": "Oslo"})
    sent = upstream.received("primary")[-1].body
    assert sent["tool_choice"] == "required" and sent["tools"][0]["function"]["name"] == "get_weather"


def test_stream_thinking(client, upstream):
    async def thinking(call):
        from aiohttp import web

        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        for delta in ({"role": "assistant", "reasoning_content": "Let me think."}, {"content": "42"}):
            await resp.write(sse(chunk("up-gpt", delta)))
        await resp.write(sse(chunk("up-gpt", {}, "stop")))
        await resp.write(sse(chunk("up-gpt", usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12})))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    upstream.on("primary", "up-gpt", thinking)
    with client.messages.stream(
        model="gpt", max_tokens=2000, messages=USER, thinking={"type": "enabled", "budget_tokens": 1024}
    ) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Let me think." and final.content[1].text == "42"
    assert upstream.received("primary")[-1].body["reasoning_effort"] == "low"


def test_native_pass_through_stream(client, upstream):
    upstream.on("anthropic", "claude-up", raw_body(transcript("reasoning.sse"), "text/event-stream"))
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    with client.messages.stream(model="claude", max_tokens=2000, system=system, messages=USER) as s:
        final = s.get_final_message()
    assert final.content[0].type == "thinking" and final.content[0].signature.startswith("EqQB")  # kept
    assert final.model == "claude-sonnet-4-5-20250929"  # the upstream's own answer
    sent = upstream.received("anthropic")[-1]
    assert sent.path == "/anthropic/v1/messages" and sent.body["system"] == system  # cache_control kept
    assert sent.body["messages"] == USER and sent.body["stream"] is True


def test_native_pass_through_create(client, upstream):
    upstream.on("anthropic", "claude-up", raw_body(transcript("tools.json")))
    got = client.messages.create(model="claude", max_tokens=50, messages=USER, tools=[WEATHER])
    assert got.stop_reason == "tool_use" and got.content[-1].type == "tool_use"
    assert upstream.received("anthropic")[-1].body["tools"] == [WEATHER]


def test_native_failure_after_content_is_an_error_event(client, upstream):
    upstream.on("anthropic", "claude-up", raw_body(transcript("midstream_error.sse"), "text/event-stream"))
    got = []
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(model="claude", max_tokens=50, messages=USER) as s:
            for text in s.text_stream:
                got.append(text)
    assert got == ["Once upon"] and e.value.body["error"]["type"] == "api_error"


def test_native_failover_to_a_translated_provider(client, upstream):
    upstream.on("anthropic", "claude-mixed", raw_body(transcript("overloaded.529.json"), status=529))
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    with client.messages.stream(model="mixed", max_tokens=50, system=system, messages=USER) as s:
        assert "".join(s.text_stream) == "Hello there!"
    assert [c.provider for c in upstream.received()] == ["anthropic", "primary"]
    sent = upstream.received("primary")[-1].body  # the same request, translated for the second provider
    assert sent["messages"][0] == {"role": "system", "content": system}
    assert "system" not in sent and sent["model"] == "up-mixed"


def test_count_tokens(client, upstream):
    estimated = client.messages.count_tokens(model="gpt", messages=[{"role": "user", "content": "x" * 400}])
    assert 100 <= estimated.input_tokens <= 120
    upstream.on("anthropic", "claude-count", raw_body(b'{"input_tokens": 42}'))
    exact = client.messages.count_tokens(model="claude-count", messages=USER)
    assert exact.input_tokens == 42
    assert upstream.received("anthropic")[-1].path == "/anthropic/v1/messages/count_tokens"


def test_failover_before_first_content(client, upstream):
    upstream.on("primary", "up-gpt", stream(pieces=["never"], cut_after=0))
    with client.messages.stream(model="gpt", max_tokens=50, messages=USER) as s:
        text = "".join(s.text_stream)
    assert text == "Hello there!"
    assert [c.provider for c in upstream.received()] == ["primary", "secondary"]


def test_failure_after_content_is_an_error_event(client, upstream):
    upstream.on("primary", "up-gpt", stream(pieces=["Hel", "lo"], cut_after=1))
    got = []
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(model="gpt", max_tokens=50, messages=USER) as s:
            for text in s.text_stream:
                got.append(text)
    assert got == ["Hel"] and e.value.body["error"]["type"] == "api_error"


def test_failure_after_content_never_ends_cleanly(gateway, upstream):
    import httpx

    upstream.on("primary", "up-gpt", stream(pieces=["Hel", "lo"], cut_after=1))
    body = {"model": "gpt", "max_tokens": 5, "messages": USER, "stream": True}
    raw = httpx.post(gateway.url + "/v1/messages", json=body, timeout=10).text
    assert "event: error" in raw and "message_stop" not in raw


@pytest.mark.parametrize(
    ("script", "exc", "type_"),
    [
        (error(429, "slow down", type="rate_limit_error"), anthropic.RateLimitError, "rate_limit_error"),
        (error(503, "busy"), anthropic.OverloadedError, "overloaded_error"),
        (error(500, "boom"), anthropic.InternalServerError, "api_error"),
        (
            error(400, "bad temperature", type="invalid_request_error"),
            anthropic.BadRequestError,
            "invalid_request_error",
        ),
        (hang(20), anthropic.GatewayTimeoutError, "timeout_error"),
    ],
)
def test_upstream_errors_raise_the_sdk_exception(client, upstream, script, exc, type_):
    for name in ("primary", "secondary"):
        upstream.on(name, "up-gpt", script)
    with pytest.raises(exc) as e:
        client.messages.create(model="gpt", max_tokens=5, messages=USER)
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == type_
    assert e.value.request_id and e.value.request_id.startswith("req_")


def test_gateway_errors_raise_the_sdk_exception(client, gateway):
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="no-such-model", max_tokens=5, messages=USER)
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="gpt", max_tokens=0, messages=USER)
    assert "max_tokens" in e.value.message
    with pytest.raises(anthropic.BadRequestError, match="server tool"):
        client.messages.create(
            model="gpt", max_tokens=5, messages=USER, tools=[{"type": "web_search_20250305", "name": "web_search"}]
        )


def test_langchain_chat_anthropic(gateway):
    from langchain_anthropic import ChatAnthropic

    llm = ChatAnthropic(model="gpt", base_url=gateway.url, api_key="unused", max_tokens=50, max_retries=0)
    assert llm.invoke("Hi").content == "Hello from primary"
    assert "".join(c.content for c in llm.stream("Hi") if isinstance(c.content, str)) == "Hello there!"
