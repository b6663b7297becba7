"""Small steps the UI tests share: send a message, wait for a reply to finish, read the thread."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from ..fake_upstream import FakeUpstream, chunk, sse


def send(page: Page, text: str) -> None:
    page.locator("#prompt").fill(text)
    page.locator("#prompt").press("Enter")


def wait_done(page: Page, count: int = 1) -> None:
    """Waits until `count` assistant messages exist and none is still streaming."""
    expect(page.locator(".msg.assistant")).to_have_count(count)
    expect(page.locator(".msg.assistant.pending")).to_have_count(0)


def last_reply(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(".msg.assistant").last


def last_call(upstream: FakeUpstream, provider: str | None = None) -> Any:
    assert upstream.wait_for(lambda: upstream.received(provider)), f"no call reached {provider or 'the upstream'}"
    return upstream.received(provider)[-1]


def reasoning_stream(reasoning: list[str], content: list[str]):  # type: ignore[no-untyped-def]
    """An upstream that streams `reasoning_content` deltas before the answer (DeepSeek/Qwen style)."""
    from aiohttp import web

    async def handle(call):  # type: ignore[no-untyped-def]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        for piece in reasoning:
            await resp.write(sse(chunk(call.model, {"role": "assistant", "reasoning_content": piece})))
        for piece in content:
            await resp.write(sse(chunk(call.model, {"content": piece})))
        await resp.write(sse(chunk(call.model, {}, "stop")))
        await resp.write(sse(chunk(call.model, usage={"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16})))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    return handle
