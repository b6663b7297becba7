"""Each dialect on the wire, through the gateway process: URLs, auth headers and query keys,
stream switches, Ollama model discovery (and a down Ollama), image URLs (refused, passed as a
URL, or fetched when the provider's switch allows it), Google's OpenAI endpoint, a bad key."""

from __future__ import annotations

import base64
import json
import urllib.request

import openai
import pytest

from ..gateway_proc import GatewayProcess, free_port
from .transcript_upstream import PIXEL_PNG

HELLO = [{"role": "user", "content": "Say hello."}]


def both_ways(client: openai.OpenAI, model: str, **kw) -> None:
    client.chat.completions.create(model=model, messages=HELLO, **kw)
    with client.chat.completions.create(model=model, messages=HELLO, stream=True, **kw) as s:
        for _ in s:
            pass


def test_anthropic_wire(client, transcripts):
    both_ways(client, "anthropic/text")
    plain, streamed = transcripts.received("anthropic", "text")[-2:]
    for call in (plain, streamed):
        assert call.path == "/anthropic/v1/messages"
        assert call.headers["x-api-key"] == "sk-ant-test"
        assert call.headers["anthropic-version"] == "2023-06-01"
        assert call.headers["anthropic-beta"] == "test-beta-2025-01-01"  # the entry's `headers`
        assert "Authorization" not in call.headers
    assert "stream" not in plain.body and streamed.body["stream"] is True
    assert streamed.headers["Accept"] == "text/event-stream"


def test_provider_default_parameters_and_client_overrides(client, transcripts):
    client.chat.completions.create(model="anthropic-defaults/text", messages=HELLO)
    body = transcripts.received("anthropic", "text")[-1].body
    assert (body["temperature"], body["top_k"], body["max_tokens"]) == (0.5, 3, 1000)
    client.chat.completions.create(model="anthropic-defaults/text", messages=HELLO, temperature=0.9, max_tokens=20)
    body = transcripts.received("anthropic", "text")[-1].body
    assert (body["temperature"], body["top_k"], body["max_tokens"]) == (0.9, 3, 20)


def test_google_wire(client, transcripts):
    both_ways(client, "google/text")
    plain, streamed = transcripts.received("google", "text")[-2:]
    assert plain.path == "/google/v1beta/models/text:generateContent" and plain.query == {}
    assert streamed.path == "/google/v1beta/models/text:streamGenerateContent"
    assert streamed.query == {"alt": "sse"}
    for call in (plain, streamed):
        assert call.headers["x-goog-api-key"] == "AIza-test"
        assert "Authorization" not in call.headers


def test_google_key_in_query(client, transcripts):
    both_ways(client, "google-query/text")
    plain, streamed = transcripts.received("google", "text")[-2:]
    assert plain.query == {"key": "AIza-test"}
    assert streamed.query == {"alt": "sse", "key": "AIza-test"}
    assert "x-goog-api-key" not in plain.headers


def test_ollama_wire(client, transcripts):
    both_ways(client, "ollama/text")
    plain, streamed = transcripts.received("ollama", "text")[-2:]
    assert plain.path == streamed.path == "/ollama/api/chat"
    assert plain.body["stream"] is False and streamed.body["stream"] is True
    assert plain.body["options"] == {"num_ctx": 8192}  # the entry's `options`


def test_openai_wire(client, transcripts):
    both_ways(client, "openai/text")
    plain, streamed = transcripts.received("openai", "text")[-2:]
    assert plain.path == "/openai/v1/chat/completions"
    assert plain.headers["Authorization"] == "Bearer sk-openai-test"
    assert plain.body == {"model": "text", "messages": HELLO}


def test_google_openai_endpoint(client, transcripts):
    r = client.chat.completions.create(model="google-openai/text", messages=HELLO)
    assert r.choices[0].message.content == "Hello! How can I help you today?"
    call = transcripts.received("openai", "text")[-1]
    assert call.path == "/openai/v1beta/openai/chat/completions"
    assert call.headers["Authorization"] == "Bearer AIza-test"
    thinking = {"thinking_budget": 512, "include_thoughts": True}
    assert call.body["extra_body"] == {"google": {"thinking_config": thinking}}

    client.chat.completions.create(model="google-openai/text", messages=HELLO, reasoning_effort="high")
    call = transcripts.received("openai", "text")[-1]
    assert call.body["reasoning_effort"] == "high" and "extra_body" not in call.body


def test_google_bad_key_fails_over(client):
    """Gemini says "bad key" as 400 INVALID_ARGUMENT + reason API_KEY_INVALID: that is a 401,
    which another provider may not share, so the next provider is tried."""
    raw = client.chat.completions.with_raw_response.create(model="google/badkey", messages=HELLO)
    assert raw.headers["x-llms-tried"].split(",") == ["google_badkey", "backup"]
    assert raw.parse().choices[0].message.content == "Hello! How can I help you today?"


# -- Ollama model discovery ------------------------------------------------------------------


def test_ollama_discovers_models(conformance_gateway):
    with urllib.request.urlopen(conformance_gateway.url + "/v1/models", timeout=10) as r:
        models = {m["id"]: m["owned_by"] for m in json.load(r)["data"]}
    for name in ("qwen3:8b", "llama3.2", "text", "gpt-oss:20b"):  # from /api/tags, `:latest` stripped
        assert models[name] == "ollama"
    assert "llama3.2:latest" not in models
    assert models["ollama/text"] == "ollama"  # configured aliases stay


def test_ollama_down_is_a_notice(tmp_path):
    config = {
        "providers": {
            "ollama": {
                "type": "OllamaProvider",
                "base_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
                "all_models": True,
                "models": {"local": "llama3.2"},
            }
        }
    }
    gw = GatewayProcess(config).start()
    try:
        with urllib.request.urlopen(gw.url + "/v1/models", timeout=10) as r:
            assert [m["id"] for m in json.load(r)["data"]] == ["local"]
        assert "ollama: cannot list models at" in gw.output()
    finally:
        gw.stop()


# -- image URLs ------------------------------------------------------------------------------


def image_request(url: str) -> list[dict]:
    parts = [{"type": "text", "text": "What is in this image?"}, {"type": "image_url", "image_url": {"url": url}}]
    return [{"role": "user", "content": parts}]


@pytest.mark.parametrize("dialect", ["google", "ollama"])
def test_remote_image_url_is_a_clear_400(client, transcripts, dialect):
    before = len(transcripts.calls)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=f"{dialect}/image", messages=image_request("https://example.invalid/cat.png")
        )
    assert info.value.body["code"] == "image_url_not_supported"
    assert "data URI" in info.value.body["message"]
    assert len(transcripts.calls) == before  # refused before anything was sent


def test_anthropic_takes_image_urls(client, transcripts):
    url = "https://example.invalid/cat.png"
    client.chat.completions.create(model="anthropic/image", messages=image_request(url))
    block = transcripts.received("anthropic", "image")[-1].body["messages"][0]["content"][1]
    assert block == {"type": "image", "source": {"type": "url", "url": url}}


def test_fetch_image_urls_switch(client, transcripts):
    url = f"http://127.0.0.1:{transcripts.port}/assets/pixel.png"
    r = client.chat.completions.create(model="google-fetch/image", messages=image_request(url))
    assert r.choices[0].message.content == "The image is a single red pixel."
    part = transcripts.received("google", "image")[-1].body["contents"][0]["parts"][1]
    assert part == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PIXEL_PNG).decode()}}

    with pytest.raises(openai.BadRequestError) as info:
        page = f"http://127.0.0.1:{transcripts.port}/assets/page.html"
        client.chat.completions.create(model="google-fetch/image", messages=image_request(page))
    assert "is not an image" in info.value.body["message"]


def test_bad_tool_arguments_are_the_clients(client, transcripts):
    bad = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    messages = [*HELLO, {"role": "assistant", "tool_calls": [bad]}, {"role": "tool", "tool_call_id": "call_1"}]
    for dialect in ("anthropic", "google", "ollama"):
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model=f"{dialect}/text", messages=messages)
        assert "not valid JSON" in info.value.body["message"]
