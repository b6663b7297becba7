"""Each dialect's `embed` against the fake upstream over loopback: OpenAI-compatible passes the
request through, Gemini and Ollama are translated; float and base64 encodings; a dialect without
embeddings fails over (a retryable error)."""

from __future__ import annotations

import asyncio

import pytest

from llms.core.errors import InvalidRequest, UpstreamError
from llms.core.types import ProviderConfig
from llms.providers import factory_for
from llms.providers.embeddings import decode_vector

from ..fake_upstream import vector_for


def _provider(upstream, type_name: str, name: str, base_suffix: str = ""):
    config = ProviderConfig(
        name=name, type=type_name, base_url=upstream.base_url(name) + base_suffix, api_key="k", models={"emb": "up-emb"}
    )
    return factory_for(type_name)(config)


def _embed(provider, request):
    async def run():
        try:
            return await provider.embed(request, "emb")
        finally:
            await provider.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("type_name", "path"),
    [
        ("OpenAiProvider", "/oa/v1/embeddings"),
        ("GoogleProvider", "/oa/v1beta/models/up-emb:batchEmbedContents"),
        ("GoogleOpenAiProvider", "/oa/v1beta/openai/embeddings"),
        ("OllamaProvider", "/oa/api/embed"),
    ],
)
@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_every_dialect_embeds(upstream, type_name, path, fmt):
    got = _embed(_provider(upstream, type_name, "oa"), {"model": "emb", "input": ["a b", "c"], "encoding_format": fmt})
    call = upstream.received("oa")[-1]
    assert call.path == path
    assert [d["index"] for d in got["data"]] == [0, 1]
    vectors = [decode_vector(d["embedding"]) for d in got["data"]]
    if fmt == "base64":
        assert all(isinstance(d["embedding"], str) for d in got["data"])
    assert vectors == [pytest.approx(vector_for("a b"), abs=1e-6), pytest.approx(vector_for("c"), abs=1e-6)]
    assert got["usage"]["prompt_tokens"] > 0


def test_openai_pass_through_keeps_fields(upstream):
    request = {"model": "emb", "input": [[1, 2, 3]], "dimensions": 4, "user": "u"}
    _embed(_provider(upstream, "OpenAiProvider", "oa"), request)
    assert upstream.received("oa")[-1].body == {**request, "model": "up-emb"}


def test_gemini_and_ollama_take_dimensions(upstream):
    _embed(_provider(upstream, "GoogleProvider", "g"), {"model": "emb", "input": "x", "dimensions": 3})
    assert upstream.received("g")[-1].body["requests"][0]["outputDimensionality"] == 3
    _embed(_provider(upstream, "OllamaProvider", "o"), {"model": "emb", "input": "x", "dimensions": 3})
    assert upstream.received("o")[-1].body == {"model": "up-emb", "input": ["x"], "dimensions": 3}


def test_token_arrays_are_refused_by_translated_dialects(upstream):
    with pytest.raises(InvalidRequest):
        _embed(_provider(upstream, "OllamaProvider", "o"), {"model": "emb", "input": [[1, 2]]})


def test_dialect_without_embeddings_fails_over(upstream):
    with pytest.raises(UpstreamError) as e:
        _embed(_provider(upstream, "AnthropicProvider", "a"), {"model": "emb", "input": "x"})
    assert e.value.retryable and e.value.code == "embeddings_not_supported"
