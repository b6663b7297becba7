"""The inbound codec for `POST /v1/embeddings`: the OpenAI request is the internal one (only
checked here); the router fails it over across the model's providers that have embeddings
(`Provider.embed`, providers/embeddings.py), and the answer goes back as the provider gave it
(OpenAI-compatible) or as the dialect translated it (Gemini, Ollama, the offline model)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..core.errors import InvalidRequest
from ..core.types import RequestRecord
from .call import Call
from .openai_chat import error_response, headers, read_checked

__all__ = ["API", "answer", "error_response", "parse"]

API = "embeddings"
FORMATS = ("float", "base64")


def check(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("`model` is required and must be a non-empty string", param="model")
    value = body.get("input")
    if not (isinstance(value, str) or (isinstance(value, list) and value)):
        raise InvalidRequest("`input` is required: a string or a non-empty array", param="input")
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in FORMATS:
        raise InvalidRequest("`encoding_format` must be 'float' or 'base64'", param="encoding_format")
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims < 1):
        raise InvalidRequest("`dimensions` must be a positive integer", param="dimensions")


async def parse(request: web.Request, max_size: int, record: RequestRecord) -> Call:
    body, budget = await read_checked(request, max_size, record, API, check)
    return Call(body, record, budget=budget, op="embed")


def answer(result: dict[str, Any], call: Call) -> web.Response:
    return web.Response(body=orjson.dumps(result), content_type="application/json", headers=headers(call.record))
