"""The official SDKs reading bytes our encoders made, served by the fake upstream over a
loopback socket: the SDK's own parsers are the judge of the wire format (the end-to-end tests
put the real gateway in between)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai

from ..fake_upstream import FakeUpstream, raw_body


def anthropic_client(
    upstream: FakeUpstream, body: bytes, *, status: int = 200, content_type: str = "text/event-stream"
) -> anthropic.Anthropic:
    upstream.on("sdk", "*", raw_body(body, content_type, status))
    return anthropic.Anthropic(api_key="k", base_url=upstream.base_url("sdk"), max_retries=0)


def openai_client(
    upstream: FakeUpstream, body: bytes, *, status: int = 200, content_type: str = "text/event-stream"
) -> openai.OpenAI:
    upstream.on("sdk", "*", raw_body(body, content_type, status))
    return openai.OpenAI(api_key="k", base_url=upstream.base_url("sdk") + "/v1", max_retries=0)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, usage: dict | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}
    if delta is not None or finish is not None:
        c["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    if usage is not None:
        c["usage"] = usage
    return c


def encode_all(feed: Callable[[dict[str, Any]], bytes | None], close: Callable[[], bytes], chunks: list[dict]) -> bytes:
    out = b""
    for c in chunks:
        out += feed(c) or b""
    return out + close()


USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
TOOL_CHUNKS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Let me check."}),
    chunk(
        {
            "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    chunk(
        {
            "tool_calls": [
                {"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
            ]
        }
    ),
    chunk(finish="tool_calls"),
    chunk(usage=USAGE),
]
THINKING_CHUNKS = [
    chunk({"role": "assistant", "reasoning_content": "Think"}),
    chunk({"reasoning_content": "ing."}),
    chunk({"content": "Hello"}),
    chunk({"content": " world"}),
    chunk(finish="stop"),
    chunk(usage={**USAGE, "prompt_tokens_details": {"cached_tokens": 2}}),
]
