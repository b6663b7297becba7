"""`POST /v1/embeddings` through the real gateway with the OpenAI SDK and LangChain's
OpenAIEmbeddings; failover; `/v1/models` marks embedding models; every API on the ledger with
its `api` field."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from ..fake_upstream import error, vector_for
from ..ledger.conftest import Ledger


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(api_key="unused", base_url=gateway.url + "/v1", max_retries=0)


def test_openai_sdk_base64_and_float(client, upstream):
    got = client.embeddings.create(model="emb", input=["alpha", "beta"])  # the SDK asks base64
    assert [d.embedding for d in got.data] == [
        pytest.approx(vector_for("alpha"), abs=1e-6),
        pytest.approx(vector_for("beta"), abs=1e-6),
    ]
    assert upstream.received("primary")[-1].body["encoding_format"] == "base64"
    assert upstream.received("primary")[-1].body["model"] == "text-embedding-3-small"
    plain = client.embeddings.create(model="emb", input="alpha", encoding_format="float")
    assert plain.data[0].embedding == vector_for("alpha") and plain.usage.prompt_tokens == 3


def test_langchain_openai_embeddings(gateway):
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(
        model="emb", base_url=gateway.url + "/v1", api_key="unused", check_embedding_ctx_length=False, max_retries=0
    )
    assert emb.embed_query("alpha") == pytest.approx(vector_for("alpha"), abs=1e-6)
    assert len(emb.embed_documents(["a", "b", "c"])) == 3


def test_failover(client, upstream):
    upstream.on("primary", "text-embedding-3-small", error(503, "busy"))
    got = client.embeddings.create(model="emb", input="x")
    assert got.data[0].embedding == pytest.approx(vector_for("x"), abs=1e-6)
    assert [c.provider for c in upstream.received()] == ["primary", "secondary"]


def test_chat_only_model_is_a_400(client):
    with pytest.raises(openai.BadRequestError, match="no provider that serves embeddings"):
        client.embeddings.create(model="claude", input="x")
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="emb", input="x", encoding_format="int8")  # type: ignore[arg-type]
    assert e.value.param == "encoding_format"


def test_models_marks_embedding_models(gateway):
    models = {m["id"]: m for m in httpx.get(gateway.url + "/v1/models").json()["data"]}
    assert models["emb"]["type"] == "embedding" and "type" not in models["gpt"]


def test_every_api_on_the_ledger(gateway, client):
    ids = {}
    ids["embeddings"] = client.embeddings.with_raw_response.create(model="emb", input="x").headers["x-request-id"]
    ids["responses"] = client.responses.with_raw_response.create(model="gpt", input="x").headers["x-request-id"]
    ids["chat.completions"] = client.chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "user", "content": "x"}]
    ).headers["x-request-id"]
    claude = anthropic.Anthropic(api_key="unused", base_url=gateway.url, max_retries=0)
    with claude.messages.with_streaming_response.create(
        model="gpt", max_tokens=5, messages=[{"role": "user", "content": "x"}], stream=True
    ) as r:
        ids["messages"] = r.headers["x-request-id"]
        r.read()
    records = Ledger(gateway.home / "usage.db").wait_for(*ids.values())
    assert {r.api: r.id for r in records} == ids
    by_api = {r.api: r for r in records}
    assert by_api["embeddings"].prompt_tokens == 3 and by_api["embeddings"].provider == "primary"
    assert by_api["messages"].stream and by_api["messages"].completion_tokens == 4
    assert all(r.outcome == "ok" and r.status == 200 for r in records)
