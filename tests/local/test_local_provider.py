"""The in-process model (`LlamaCppProvider` running SmolLM2-135M) behind a real gateway,
driven by the OpenAI SDK: a fixed fact answered non-streamed and streamed, the server free
while the model generates, the bounded queue (429 + Retry-After), a client that goes away
stopping the generation, the model loaded at start, and memory reported in /status."""

from __future__ import annotations

import json
import time
import urllib.request

import openai
import pytest

from ..gateway_proc import GatewayProcess
from .conftest import ANSWER_WORD, QUESTION, local_config, sdk

LONG = "Write a long story about a dragon who learns to bake bread. Use many paragraphs."


def status_of(gw: GatewayProcess, name: str = "local") -> dict:
    with urllib.request.urlopen(gw.url + "/status", timeout=10) as r:
        data = json.load(r)
    return next(p for p in data["providers"] if p["name"] == name)


def wait_idle(gw: GatewayProcess, timeout: float = 60.0) -> dict:
    """/status once the model generates nothing and nothing waits."""
    end = time.monotonic() + timeout
    while True:
        info = status_of(gw)
        if info["generating"] == 0 and info["queued"] == 0:
            return info
        assert time.monotonic() < end, f"the local model is still busy: {info}"
        time.sleep(0.05)


def contents(stream) -> list[str]:
    return [ev.choices[0].delta.content for ev in stream if ev.choices and ev.choices[0].delta.content]


def test_answers_a_fact_non_streamed(local_gateway):
    raw = sdk(local_gateway.url).chat.completions.with_raw_response.create(
        model="smollm2", messages=[{"role": "user", "content": QUESTION}], temperature=0, max_tokens=32
    )
    r = raw.parse()
    assert ANSWER_WORD in r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.model == "SmolLM2-135M-Instruct"
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 32
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert raw.headers["x-llms-provider"] == "local"


def test_streams_token_by_token(local_gateway):
    with sdk(local_gateway.url).chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=32,
        stream=True,
        stream_options={"include_usage": True},
    ) as s:
        events = list(s)
    texts = [e.choices[0].delta.content for e in events if e.choices and e.choices[0].delta.content]
    assert len(texts) > 3  # one chunk per token, not one blob
    assert ANSWER_WORD in "".join(texts)
    assert any(e.choices and e.choices[0].finish_reason for e in events)
    assert events[-1].usage is not None and events[-1].usage.completion_tokens > 0


def test_health_answers_while_the_model_generates(local_gateway):
    wait_idle(local_gateway)
    client = sdk(local_gateway.url)
    with client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": LONG}], temperature=0, max_tokens=64, stream=True
    ) as s:
        it = iter(s)
        before = [c for c in (next(it) for _ in range(3))]
        assert before  # generation is under way
        with urllib.request.urlopen(local_gateway.url + "/health", timeout=10) as r:
            assert r.status == 200
        assert status_of(local_gateway)["generating"] == 1
        after = contents(it)
    assert after, "the stream went on after /health answered"


def test_model_memory_and_state_in_status(local_gateway):
    sdk(local_gateway.url).chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
    )
    info = wait_idle(local_gateway)
    assert info["state"] == "enabled" and info["type"] == "LlamaCppProvider"
    assert info["loaded"] is True and info["model_path"].endswith(".gguf")
    assert info["rss_after_load_mb"] > info["rss_before_load_mb"] > 0
    assert info["rss_mb"] > 0 and info["model_mb"] > 50
    assert info["chat_format"]  # the template came from the GGUF metadata


@pytest.fixture
def single_slot(gguf):
    """A gateway whose model takes one generation and queues none (and whose router passes a
    429 on to the client instead of waiting for Retry-After and asking again)."""
    gw = GatewayProcess(local_config(max_queue=0, retries=0)).start()
    yield gw
    gw.stop()


def test_full_queue_is_a_429_with_retry_after(single_slot):
    client = sdk(single_slot.url)
    with client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": LONG}], max_tokens=64, stream=True
    ) as s:
        next(iter(s))
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    err = caught.value
    assert err.status_code == 429
    wait = int(err.response.headers["retry-after"])
    assert wait >= 1
    assert "busy" in err.message
    wait_idle(single_slot)
    time.sleep(wait)  # the router holds a provider that said 429 for Retry-After seconds
    r = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert r.choices[0].message.content is not None


def test_client_disconnect_stops_the_generation(single_slot):
    client = sdk(single_slot.url)
    done_before = status_of(single_slot)["generations"]
    s = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": LONG}], temperature=0, max_tokens=400, stream=True
    )
    it = iter(s)
    for _ in range(3):
        next(it)
    s.close()  # the client goes away mid-answer
    info = wait_idle(single_slot)
    assert info["generations"] == done_before + 1
    assert info["stopped"] >= 1


def test_requests_it_cannot_serve_are_400s(local_gateway):
    client = sdk(local_gateway.url)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    with pytest.raises(openai.BadRequestError, match="text only"):
        client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": [{"type": "text", "text": "What?"}, image]}]
        )
    with pytest.raises(openai.BadRequestError, match="`n` must be 1"):
        client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], n=2)
    too_long = "word " * 1500  # over the test gateway's n_ctx of 1024 tokens
    with pytest.raises(openai.BadRequestError, match="context window"):
        client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": too_long}], max_tokens=4)


def test_load_at_start_reports_memory_before_any_request(gguf):
    gw = GatewayProcess(local_config(load="start")).start()
    try:
        info = status_of(gw)
        assert info["loaded"] is True and info["generations"] == 0
        assert info["load_seconds"] >= 0 and info["rss_load_delta_mb"] > 0
    finally:
        assert gw.stop() == 0  # a clean shutdown frees the model
