"""Routing and failover through the real gateway process: order, which statuses fail over,
the streaming commit point, in-band errors after it, client disconnects, pass-through."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
from aiohttp import web

from . import fake_upstream as fu

MSG = [{"role": "user", "content": "hi"}]


def post(gateway, body: dict, **kw) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=20, **kw)


def sse_events(text: str) -> list:
    events = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            events.append(data if data == "[DONE]" else orjson.loads(data))
    return events


@pytest.mark.parametrize(
    "failure",
    [
        fu.error(500, "boom"),
        fu.error(502, "bad gateway"),
        fu.error(503, "overloaded"),
        fu.error(401, "invalid api key"),
        fu.error(403, "forbidden"),
        fu.error(404, "no such model"),
        fu.error(408, "timeout"),
        fu.error(409, "conflict"),
        fu.error(429, "rate limited"),
        fu.reset(),
        fu.raw_body(b"<html>not json</html>", "text/html"),
        fu.raw_body(b'{"no_choices": true}'),
    ],
    ids=["500", "502", "503", "401", "403", "404", "408", "409", "429", "reset", "html", "no-choices"],
)
def test_fails_over_to_next_provider_in_order(gateway, upstream, failure):
    upstream.on("primary", "p-chat", failure)
    r = post(gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "Hello from secondary"
    assert r.headers["x-llms-provider"] == "secondary"
    assert r.headers["x-llms-tried"] == "primary,secondary"
    # key-less and disabled providers are never tried
    assert [c.provider for c in upstream.received()] == ["primary", "secondary"]
    assert upstream.received("secondary")[0].body["model"] == "s-chat"


def test_no_failover_on_client_error(gateway, upstream):
    upstream.on("primary", "p-chat", fu.error(400, "messages[0].content is too long", type="invalid_request_error"))
    r = post(gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "messages[0].content is too long"
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert [c.provider for c in upstream.received()] == ["primary"]


def test_all_timed_out_is_504(gateway, upstream):
    upstream.on("primary", "shared", fu.hang())
    upstream.on("secondary", "shared", fu.hang())
    start = time.monotonic()
    r = post(gateway, {"model": "shared", "messages": MSG})
    assert r.status_code == 504
    err = r.json()["error"]
    assert err["code"] == "upstream_timeout"
    assert "primary: timeout" in err["message"] and "secondary: timeout" in err["message"]
    assert time.monotonic() - start < 15  # first_byte is 3 s per attempt in the test config


def test_all_failed_message_lists_each_provider_without_secrets(gateway, upstream):
    upstream.on("primary", "shared", fu.error(500, "primary exploded"))
    upstream.on("secondary", "shared", fu.reset())
    r = post(gateway, {"model": "shared", "messages": MSG}, headers={"Authorization": "Bearer sk-client-key"})
    assert r.status_code == 502
    msg = r.json()["error"]["message"]
    assert "primary: HTTP 500 primary exploded" in msg
    assert "secondary: connection closed" in msg
    assert "sk-" not in r.text and "Traceback" not in r.text


def test_stream_fails_over_before_first_content(gateway, upstream):
    upstream.on("primary", "p-chat", fu.stream(["never"], cut_after=0))  # role chunk, then reset
    r = post(gateway, {"model": "chat", "messages": MSG, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-llms-provider"] == "secondary"
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"])
    assert text == "Hello there!"


def test_stream_error_status_before_commit_fails_over(gateway, upstream):
    upstream.on("primary", "p-chat", fu.error(429, "slow down", headers={"Retry-After": "2"}))
    r = post(gateway, {"model": "chat", "messages": MSG, "stream": True})
    assert r.headers["x-llms-provider"] == "secondary" and sse_events(r.text)[-1] == "[DONE]"


def test_stream_all_failed_before_commit_is_a_real_http_error(gateway, upstream):
    upstream.on("primary", "shared", fu.error(503, "down"))
    upstream.on("secondary", "shared", fu.error(503, "down too"))
    r = post(gateway, {"model": "shared", "messages": MSG, "stream": True})
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "all_providers_failed"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (fu.stream(["a", "b", "c"], cut_after=2), "connection closed"),
        (fu.stream(["a", "b", "c"], done=False), "ended before the answer was complete"),
        (fu.stream(["a", "b", "c"], garbage_after=2), "not valid JSON"),
    ],
    ids=["reset", "no-done", "garbage"],
)
def test_stream_error_after_commit_is_in_band_and_never_done(gateway, upstream, script, reason):
    upstream.on("primary", "p-chat", script)
    r = post(gateway, {"model": "chat", "messages": MSG, "stream": True})
    assert r.status_code == 200
    events = sse_events(r.text)
    assert "[DONE]" not in events
    assert "error" in events[-1] and reason in events[-1]["error"]["message"]
    assert events[-1]["error"]["message"].startswith("primary") or "primary" not in events[-1]["error"]["message"]
    contents = [e["choices"][0]["delta"].get("content") for e in events[:-1] if e.get("choices")]
    assert "a" in contents
    assert upstream.received("secondary") == []  # committed: no switching mid-answer


def test_client_disconnect_cancels_upstream(gateway, upstream):
    upstream.on("primary", "p-chat", fu.stream(["x"] * 200, delay=0.1))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        timeout=20,
        json={"model": "chat", "messages": MSG, "stream": True},
    ) as r:
        for line in r.iter_lines():
            if '"content":"x"' in line:
                break
    closed = time.monotonic()
    call = upstream.received("primary")[0]
    assert upstream.wait_for(lambda: call.disconnected, timeout=5)
    assert call.closed_at - closed < 1.5
    assert not call.finished


def test_every_field_passes_through_and_defaults_apply(gateway, upstream):
    body = {
        "model": "chat",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi", "name": "bob"}],
        "max_tokens": 50,
        "max_completion_tokens": 60,
        "top_p": 0.9,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "stop": ["\n\n", "END"],
        "seed": 42,
        "logprobs": True,
        "top_logprobs": 2,
        "reasoning_effort": "low",
        "enable_thinking": False,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "n": 1,
        "user": "user-1",
        "some_future_param": {"nested": [1, 2, {"deep": None}]},
        "metadata": {"trace": "abc"},
    }
    r = post(gateway, body, headers={"Authorization": "Bearer sk-client-should-not-leak"})
    assert r.status_code == 200
    sent = upstream.received("primary")[0]
    assert sent.body == {**body, "model": "p-chat", "temperature": 0.25}  # provider default added
    assert sent.headers["Authorization"] == "Bearer sk-primary-secret"
    assert sent.headers["X-Default"] == "d" and sent.headers["X-Provider"] == "primary"

    upstream.reset()
    post(gateway, {**body, "temperature": 1.5})
    assert upstream.received("primary")[0].body["temperature"] == 1.5  # the client's value wins


def test_env_key_reaches_secondary(gateway, upstream):
    post(gateway, {"model": "only-secondary", "messages": MSG})
    sent = upstream.received("secondary")[0]
    assert sent.headers["Authorization"] == "Bearer sk-secondary-secret"
    assert sent.path == "/secondary/v1/chat/completions"  # base_url ending in /v1: no second /v1


def test_stall_after_commit_is_in_band_timeout(gateway, upstream):
    upstream.on("primary", "p-chat", fu.stream(["a", "b"], delay=4))  # idle timeout is 2 s
    r = post(gateway, {"model": "chat", "messages": MSG, "stream": True})
    events = sse_events(r.text)
    assert events[-1]["error"]["type"] == "timeout"
    assert "stalled" in events[-1]["error"]["message"]
    assert "[DONE]" not in events


def test_stall_in_a_non_streamed_body_is_an_idle_timeout(gateway, upstream):
    # Headers and part of the body, then silence: the idle timer (2 s) must cover the body read
    # (the transport arms it only when the body is not already complete).
    async def handle(call):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 100
        await response.prepare(call.request)
        await response.write(b'{"id": "x", ')
        await asyncio.sleep(4)
        return response

    upstream.on("primary", "p-only", handle)
    r = post(gateway, {"model": "primary-only", "messages": MSG})
    assert r.status_code == 504, r.text
    assert "stalled" in r.json()["error"]["message"]


def test_slow_first_byte_fails_over(gateway, upstream):
    upstream.on("primary", "p-chat", fu.stream(["late"], first_delay=5))  # first_byte timeout is 3 s
    r = post(gateway, {"model": "chat", "messages": MSG, "stream": True})
    assert r.headers["x-llms-provider"] == "secondary"
    assert sse_events(r.text)[-1] == "[DONE]"


def test_upstream_that_ignores_stream_still_streams_to_the_client(gateway, upstream):
    # some OpenAI-compatible servers answer `"stream": true` with one JSON body
    upstream.on("primary", "p-chat", fu.reply("whole answer"))
    r = post(gateway, {"model": "chat", "messages": MSG, "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"])
    assert text == "whole answer"
    assert [e["choices"][0]["finish_reason"] for e in events[:-1] if e["choices"]][-1] == "stop"
