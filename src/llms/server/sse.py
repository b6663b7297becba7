"""Downstream SSE encoder: `data: <chunk>` events, `data: [DONE]`, and the in-band error
frame sent when a stream fails after its commit point."""

from __future__ import annotations

import orjson

from ..core.errors import GatewayError
from ..core.types import Chunk

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


def encode_chunk(chunk: Chunk) -> bytes:
    raw = chunk.raw
    if raw is None or b"\n" in raw:  # a multi-line upstream event must be re-serialised
        raw = orjson.dumps(chunk.data)
    return b"data: " + raw + b"\n\n"


def encode_error(error: GatewayError) -> bytes:
    return b"data: " + orjson.dumps(error.envelope()) + b"\n\n"
