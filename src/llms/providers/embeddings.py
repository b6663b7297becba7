"""Embeddings in every dialect that has them: the OpenAI `POST /v1/embeddings` request is the
lingua franca (`input` a string or a list of strings, `dimensions`, `encoding_format` float or
base64); Gemini (`batchEmbedContents`) and Ollama (`/api/embed`) translate here. OpenAI-compatible
upstreams are passed the request as sent (token-array inputs too); translated ones take text.

`encoding_format: base64` is what the OpenAI SDK asks by default: little-endian float32 vectors,
base64-encoded. Translated upstreams answer floats, so the gateway encodes them itself."""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any
from urllib.parse import quote

from ..core.errors import InvalidRequest


def texts_of(request: dict[str, Any]) -> list[str]:
    """The `input` as a list of strings, for upstreams that take only text."""
    value = request.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise InvalidRequest(
        "`input` must be a string or a non-empty array of strings for this provider (token arrays are "
        "passed through to OpenAI-compatible providers only)",
        param="input",
    )


def encode_vector(vector: list[float], fmt: str | None) -> list[float] | str:
    if fmt != "base64":
        return vector
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()


def decode_vector(value: list[float] | str) -> list[float]:
    """A vector as floats, from either encoding (for tests and for the offline model)."""
    if isinstance(value, list):
        return value
    packed = array("f", base64.b64decode(value))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


def answer(vectors: list[list[float]], model: str, prompt_tokens: int, fmt: str | None) -> dict[str, Any]:
    """OpenAI's embeddings answer for vectors in input order."""
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_vector(v, fmt)} for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def estimate_tokens(texts: list[str]) -> int:
    """~4 characters a token, for upstreams that do not count (Gemini's batch endpoint)."""
    return sum(max(1, (len(t) + 3) // 4) for t in texts)


# -- Gemini ------------------------------------------------------------------------------------


def gemini_url(base: str, model: str) -> str:
    """`…/v1beta/models/{model}:batchEmbedContents` (`base` already ends in its version)."""
    name = model if "/" in model else f"models/{model}"
    return f"{base}/{quote(name, safe='/')}:batchEmbedContents"


def to_gemini(request: dict[str, Any], model: str) -> dict[str, Any]:
    name = model if "/" in model else f"models/{model}"
    one: dict[str, Any] = {"model": name}
    if request.get("dimensions"):
        one["outputDimensionality"] = request["dimensions"]
    return {"requests": [{**one, "content": {"parts": [{"text": t}]}} for t in texts_of(request)]}


def from_gemini(data: Any) -> list[list[float]]:
    items = data.get("embeddings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("no `embeddings` in the answer")
    return [list(e.get("values") or []) for e in items]


# -- Ollama ------------------------------------------------------------------------------------


def to_ollama(request: dict[str, Any], model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": texts_of(request)}
    if request.get("dimensions"):
        body["dimensions"] = request["dimensions"]
    return body


def from_ollama(data: Any) -> tuple[list[list[float]], int]:
    items = data.get("embeddings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("no `embeddings` in the answer")
    return [list(v) for v in items], int(data.get("prompt_eval_count") or 0)
