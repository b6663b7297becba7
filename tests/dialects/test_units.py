"""The dialects' pure mapping functions, case by case: URL rules, parameter edge cases, error
mapping by status and vendor type, schema trimming, and stream mappers fed event by event."""

from __future__ import annotations

import json

import pytest

from llms.app import build
from llms.config import PACKAGED, parse_config
from llms.config.loader import default_config_text
from llms.core.errors import InvalidRequest, UpstreamStatusError, is_retryable
from llms.providers import anthropic, google, ollama
from llms.providers.google_openai import openai_chat_url
from llms.providers.native import data_uri


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages"),
        ("http://proxy.local/anthropic/v1", "http://proxy.local/anthropic/v1/messages"),
    ],
)
def test_anthropic_url(base, url):
    assert anthropic.messages_url(base) == url


def test_gemini_urls():
    host = "https://generativelanguage.googleapis.com"
    assert google.model_url(host, "gemini-2.5-flash", stream=False) == (
        f"{host}/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert google.model_url(host + "/v1", "m", stream=True) == f"{host}/v1/models/m:streamGenerateContent?alt=sse"
    assert google.model_url(host, "tunedModels/t1", stream=False) == f"{host}/v1beta/tunedModels/t1:generateContent"
    assert openai_chat_url(host) == f"{host}/v1beta/openai/chat/completions"
    assert openai_chat_url(host + "/v1beta/openai/") == f"{host}/v1beta/openai/chat/completions"


def test_data_uri():
    assert data_uri("data:image/png;base64,AAAA") == ("image/png", "AAAA")
    assert data_uri("data:text/plain,hi%20there") == ("text/plain", "aGkgdGhlcmU=")
    assert data_uri("https://x/y.png") is None
    with pytest.raises(InvalidRequest):
        data_uri("data:image/png;base64")


# -- anthropic -------------------------------------------------------------------------------


def to_anthropic(**req):
    return anthropic.to_anthropic({"model": "m", "messages": [{"role": "user", "content": "hi"}], **req}, stream=False)


def test_anthropic_parameters():
    body = to_anthropic(temperature=1.7, stop="END", user="u-1", top_k=5)
    assert body["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS
    assert body["temperature"] == 1.0  # Anthropic's range is 0–1
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["top_k"] == 5
    assert to_anthropic(max_completion_tokens=77, max_tokens=99)["max_tokens"] == 77


def test_anthropic_thinking_budget():
    body = to_anthropic(reasoning_effort="high", temperature=0.3, top_k=5)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    assert body["max_tokens"] == 16384 + anthropic.DEFAULT_MAX_TOKENS
    assert "temperature" not in body and "top_k" not in body  # rejected with thinking on
    assert to_anthropic(reasoning_effort="high", max_tokens=3000)["thinking"]["budget_tokens"] == 2999
    assert "thinking" not in to_anthropic(reasoning_effort="low", max_tokens=900)  # below the minimum budget
    assert "thinking" not in to_anthropic(reasoning_effort="minimal")


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_anthropic_tool_choice(choice, parallel, expected):
    tool = {"type": "function", "function": {"name": "f"}}
    body = to_anthropic(tools=[tool], tool_choice=choice, parallel_tool_calls=parallel)
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert body["tool_choice"] == expected


def test_anthropic_roles_alternate_and_tool_results_come_first():
    system, messages = anthropic.conversation(
        [
            {"role": "developer", "content": "rules"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "t1", "function": {"name": "f"}}]},
            {"role": "user", "content": "and also"},
            {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "42"}]},
        ]
    )
    assert system == [{"type": "text", "text": "rules"}]
    assert [m["role"] for m in messages] == ["assistant", "user"]
    assert [b["type"] for b in messages[1]["content"]] == ["tool_result", "text"]
    assert messages[1]["content"][0]["content"] == [{"type": "text", "text": "42"}]


def test_anthropic_rejects_audio_and_unknown_roles():
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "mp3"}}
    with pytest.raises(InvalidRequest):
        anthropic.conversation([{"role": "user", "content": [audio]}])
    with pytest.raises(InvalidRequest):
        anthropic.conversation([{"role": "narrator", "content": "x"}])


def test_anthropic_pdf_is_a_document_block():
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}
    _, messages = anthropic.conversation([{"role": "user", "content": [pdf]}])
    assert messages[0]["content"][0] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }


@pytest.mark.parametrize(
    ("type_", "status", "retryable"),
    [
        ("overloaded_error", 529, True),
        ("api_error", 500, True),
        ("rate_limit_error", 429, True),
        ("invalid_request_error", 400, False),
        ("request_too_large", 413, False),
    ],
)
def test_anthropic_stream_error_by_type(type_, status, retryable):
    mapper = anthropic.StreamMapper("claude", "m", include_usage=False)
    with pytest.raises(UpstreamStatusError) as info:
        mapper.feed({"type": "error", "error": {"type": type_, "message": "boom"}})
    assert info.value.upstream_status == status
    assert is_retryable(info.value) is retryable
    assert info.value.code == type_


def test_anthropic_usage_counts_cache_reads_and_writes():
    u = anthropic.map_usage(
        {
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 5,
                "cache_read_input_tokens": 20,
                "output_tokens": 3,
            }
        }
    )
    assert u == {
        "prompt_tokens": 35,
        "completion_tokens": 3,
        "total_tokens": 38,
        "prompt_tokens_details": {"cached_tokens": 20},
    }


# -- google ----------------------------------------------------------------------------------


def test_gemini_schema_is_trimmed():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tags": {"type": "array", "items": {"type": ["string", "null"], "const": "x"}},
            "either": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "string"}]},
        },
    }
    assert google.gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string", "nullable": True}},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
    }


def test_gemini_generation_config():
    req = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "n": 2,
        "stop": "END",
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "reasoning_effort": "none",
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    }
    body = google.to_gemini(req, "g", thinking_config={"thinkingBudget": 99})
    gen = body["generationConfig"]
    assert gen["candidateCount"] == 2 and gen["stopSequences"] == ["END"]
    assert gen["responseMimeType"] == "application/json" and gen["responseJsonSchema"] == {"type": "object"}
    assert gen["thinkingConfig"] == {"thinkingBudget": 0, "includeThoughts": False}  # the client's effort wins
    assert body["tools"] == [{"functionDeclarations": [{"name": "f"}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}
    assert "tools" not in google.to_gemini({**req, "tool_choice": "none"}, "g")


def test_gemini_thought_signature_round_trips():
    answer = {
        "candidates": [
            {
                "content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "sig"}]},
                "finishReason": "STOP",
            }
        ]
    }
    message = google.from_gemini(answer, "m")["choices"][0]["message"]
    assert message["tool_calls"][0]["extra_content"] == {"google": {"thought_signature": "sig"}}
    _, contents = google.conversation([{"role": "assistant", **message}], "g")
    assert contents[0]["parts"][0] == {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "sig"}


@pytest.mark.parametrize(
    ("status", "body", "upstream_status", "retryable"),
    [
        (429, {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}, 429, True),
        (400, {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}, 400, False),
        (
            400,
            {"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}},
            401,
            True,
        ),
        (200, [{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}], 503, True),
        (200, {"error": {"message": "no code", "status": "RESOURCE_EXHAUSTED"}}, 429, True),
    ],
)
def test_gemini_errors(status, body, upstream_status, retryable):
    err = google.gemini_error("gemini", status, body)
    assert err.upstream_status == upstream_status
    assert is_retryable(err) is retryable
    if not retryable:
        assert err.status == 400 and err.type == "invalid_request_error" and err.code == "INVALID_ARGUMENT"


def test_gemini_blocked_prompt_is_content_filter():
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 7}}
    assert google.from_gemini(blocked, "m")["choices"][0]["finish_reason"] == "content_filter"
    mapper = google.StreamMapper("g", "m", include_usage=True)
    chunks = mapper.feed(blocked)
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter" and mapper.finished
    assert mapper.close()[0]["usage"]["prompt_tokens"] == 7


def test_gemini_stream_with_two_candidates():
    mapper = google.StreamMapper("g", "m", include_usage=False)
    out = mapper.feed(
        {
            "candidates": [
                {"index": 0, "content": {"parts": [{"text": "a"}]}},
                {"index": 1, "content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}},
            ]
        }
    )
    assert [c["choices"][0]["index"] for c in out[1:]] == [0, 1]
    assert not mapper.finished
    out = mapper.feed({"candidates": [{"index": 0, "finishReason": "STOP"}, {"index": 1, "finishReason": "STOP"}]})
    assert [c["choices"][0]["finish_reason"] for c in out] == ["stop", "tool_calls"]
    assert mapper.finished


# -- ollama ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "think"),
    [
        ({"model": "gpt-oss:20b", "reasoning_effort": "high"}, "high"),
        ({"model": "qwen3:8b", "reasoning_effort": "high"}, True),
        ({"model": "qwen3:8b", "reasoning_effort": "none"}, False),
        ({"model": "qwen3:8b", "enable_thinking": False}, False),
        ({"model": "qwen3:8b"}, None),
    ],
)
def test_ollama_think(req, think):
    body = ollama.to_ollama({**req, "messages": []}, "o", stream=False, options={})
    assert body.get("think") == think


def test_ollama_formats_and_tool_choice_none():
    base = {"model": "m", "messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]}
    schema = {"type": "object"}
    fmt = {"type": "json_schema", "json_schema": {"schema": schema}}
    assert ollama.to_ollama({**base, "response_format": fmt}, "o", stream=False, options={})["format"] == schema
    json_mode = {**base, "response_format": {"type": "json_object"}}
    assert ollama.to_ollama(json_mode, "o", stream=False, options={})["format"] == "json"
    assert "tools" not in ollama.to_ollama({**base, "tool_choice": "none"}, "o", stream=False, options={})


def test_ollama_images_must_be_inline():
    url = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    with pytest.raises(InvalidRequest):
        ollama.messages([{"role": "user", "content": [url]}], "o")
    inline = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}}
    assert ollama.messages([{"role": "user", "content": [inline]}], "o")[0]["images"] == ["/9j/"]


# -- the packaged default llms.json ----------------------------------------------------------


def test_packaged_config_has_the_native_dialects():
    env = {"ANTHROPIC_API_KEY": "a", "GOOGLE_API_KEY": "g", "GOOGLE_FREE_API_KEY": "f"}
    config = parse_config(json.loads(default_config_text()), PACKAGED, env)
    types = {name: pc.type for name, pc in config.providers.items()}
    assert types["anthropic"] == "AnthropicProvider"
    assert types["google"] == types["google_free"] == "GoogleProvider"
    assert types["ollama"] == "OllamaProvider" and not config.providers["ollama"].enabled
    assert config.providers["google"].extra["thinking_config"] == {"thinkingBudget": 1024, "includeThoughts": True}
    gateway = build(config)
    local = ("local", "local-embeddings")  # the built-in models
    built = {p.name: type(p).__name__ for p in gateway.providers if p.name not in local}
    assert built == {"google_free": "GoogleProvider", "google": "GoogleProvider", "anthropic": "AnthropicProvider"}
