"""A real third-party upstream: llama-cpp-python's own OpenAI-compatible server
(`python -m llama_cpp.server`) on a loopback port, configured as an ordinary `OpenAiProvider`
and driven through the gateway by the OpenAI SDK — non-streamed, streamed, usage, and failover
from a provider whose port is closed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..gateway_proc import GatewayProcess, free_port
from .conftest import ANSWER_WORD, QUESTION, LlamaServer, sdk


@pytest.fixture(scope="module")
def gateway_to_server(llama_server: LlamaServer) -> Iterator[GatewayProcess]:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = {
        "timeouts": {"connect": 3, "first_byte": 60, "idle": 30, "total": 120},
        "providers": {
            "dead": {"type": "OpenAiProvider", "base_url": dead, "models": {"smollm2": "smollm2"}},
            "llamacpp_server": {
                "type": "OpenAiProvider",
                "base_url": llama_server.url,
                "models": {"smollm2": "smollm2", "direct": "smollm2"},
            },
        },
    }
    gw = GatewayProcess(config).start()
    yield gw
    gw.stop()


def tried(headers) -> list[str]:
    """The providers asked, in order, each once (the router may retry one before moving on)."""
    return list(dict.fromkeys(headers["x-llms-tried"].split(",")))


def ask(**extra: object) -> dict:
    return {"messages": [{"role": "user", "content": QUESTION}], "temperature": 0, "max_tokens": 32, **extra}


def test_non_streamed_answer_and_usage(gateway_to_server):
    raw = sdk(gateway_to_server.url).chat.completions.with_raw_response.create(model="direct", **ask())
    r = raw.parse()
    assert ANSWER_WORD in r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 32
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert raw.headers["x-llms-provider"] == "llamacpp_server"
    assert "x-llms-tried" not in raw.headers


def test_streamed_answer(gateway_to_server):
    with sdk(gateway_to_server.url).chat.completions.create(model="direct", stream=True, **ask()) as s:
        events = list(s)
    texts = [e.choices[0].delta.content for e in events if e.choices and e.choices[0].delta.content]
    assert len(texts) > 3
    assert ANSWER_WORD in "".join(texts)
    assert any(e.choices and e.choices[0].finish_reason for e in events)


def test_failover_from_a_dead_provider(gateway_to_server):
    raw = sdk(gateway_to_server.url).chat.completions.with_raw_response.create(model="smollm2", **ask())
    assert ANSWER_WORD in raw.parse().choices[0].message.content
    assert raw.headers["x-llms-provider"] == "llamacpp_server"
    assert tried(raw.headers) == ["dead", "llamacpp_server"]


def test_streamed_failover_from_a_dead_provider(gateway_to_server):
    client = sdk(gateway_to_server.url)
    with client.chat.completions.with_streaming_response.create(model="smollm2", stream=True, **ask()) as resp:
        assert tried(resp.headers) == ["dead", "llamacpp_server"]
        texts = [e.choices[0].delta.content for e in resp.parse() if e.choices and e.choices[0].delta.content]
    assert ANSWER_WORD in "".join(texts)
