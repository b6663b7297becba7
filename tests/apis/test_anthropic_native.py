"""The `anthropic` dialect serving a Messages-API client natively: the body goes upstream as the
client sent it (cache_control, thinking signatures kept), the answer's bytes come back unchanged,
and chat chunks are made beside them for the commit point and the usage ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest

from llms.core.accumulate import StreamAccumulator
from llms.core.errors import UpstreamStatusError
from llms.core.types import Native, ProviderConfig
from llms.providers.anthropic import AnthropicProvider

from ..dialects.transcript_upstream import TRANSCRIPTS, TranscriptUpstream

BODY = {
    "model": "claude",
    "max_tokens": 100,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": "17 * 3?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "sig-1"}]},
        {"role": "user", "content": "again"},
    ],
}


@pytest.fixture(scope="module")
def transcripts() -> Iterator[TranscriptUpstream]:
    up = TranscriptUpstream().start()
    yield up
    up.stop()


def _provider(up: TranscriptUpstream, case: str) -> AnthropicProvider:
    config = ProviderConfig(name="anthropic", type="AnthropicProvider", base_url=up.base_url("anthropic"), api_key="k")
    config.models = {"claude": case}
    return AnthropicProvider(config)


def _native(stream: bool = False) -> Native:
    body = {**BODY, "stream": True} if stream else dict(BODY)
    return Native({"model": "claude", "messages": [{"role": "user", "content": "x"}]}, "anthropic.messages", body)


def test_stream_passes_bytes_through(transcripts):
    provider = _provider(transcripts, "reasoning")

    async def run():
        frames, acc = [], StreamAccumulator()
        async for chunk in provider.stream(_native(stream=True), "claude"):
            frames.append(chunk.native)
            acc.add(chunk.data)
        await provider.aclose()
        return frames, acc.result()

    frames, result = asyncio.run(run())
    assert b"".join(frames) == (TRANSCRIPTS / "anthropic" / "reasoning.sse").read_bytes()
    sent = transcripts.received("anthropic")[-1].body
    assert sent == {**BODY, "model": "reasoning", "stream": True}  # cache_control and signature kept
    assert result["usage"]["completion_tokens"] == 60 and "51" in result["choices"][0]["message"]["content"]


def test_plain_answer_is_kept(transcripts):
    provider = _provider(transcripts, "tools")

    async def run():
        try:
            return await provider.chat(_native(), "claude")
        finally:
            await provider.aclose()

    result = asyncio.run(run())
    assert isinstance(result, Native)
    assert result.body == orjson.loads((TRANSCRIPTS / "anthropic" / "tools.json").read_bytes())
    assert result["choices"][0]["finish_reason"] == "tool_calls"  # the chat shape beside it


def test_upstream_error_is_ours(transcripts):
    provider = _provider(transcripts, "overloaded")

    async def run():
        try:
            return await provider.chat(_native(), "claude")
        finally:
            await provider.aclose()

    with pytest.raises(UpstreamStatusError) as e:
        asyncio.run(run())
    assert e.value.upstream_status == 529 and e.value.retryable


def test_a_plain_chat_request_is_still_translated(transcripts):
    provider = _provider(transcripts, "text")

    async def run():
        try:
            return await provider.chat({"model": "claude", "messages": [{"role": "user", "content": "hi"}]}, "claude")
        finally:
            await provider.aclose()

    result = asyncio.run(run())
    assert not isinstance(result, Native) and result["object"] == "chat.completion"
