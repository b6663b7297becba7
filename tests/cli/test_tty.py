"""The command in a real pseudo-terminal (pexpect): a terminal is never read as stdin (no
hang), the answer appears live, and reasoning is dimmed — control codes a pipe never gets
(tests/cli/test_chat.py checks the pipe side)."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect

from ..fake_upstream import FakeUpstream, chunk, sse
from .conftest import cli_env


def spawn(config_path: Path, tmp_path: Path, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "llms", "--config", str(config_path), *args],
        env=cli_env(tmp_path / "home"),
        encoding="utf-8",
        timeout=20,
        dimensions=(24, 120),
    )


def test_answer_in_a_terminal(config_path: Path, tmp_path: Path, upstream: FakeUpstream):
    from aiohttp import web

    async def handle(call):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        await resp.write(sse(chunk(call.model, {"role": "assistant", "reasoning_content": "Let me think."})))
        await resp.write(sse(chunk(call.model, {"content": "Paris"})))
        await resp.write(sse(chunk(call.model, {}, "stop")))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    upstream.on("primary", "p-chat", handle)
    child = spawn(config_path, tmp_path, "capital", "of", "France?")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    out = child.before
    assert "\x1b[2mLet me think.\x1b[0m\r\nParis\r\n" in out  # reasoning dimmed, then the answer
    assert "chat · primary (p-chat)" in out  # stderr's usage line shares the terminal
    assert upstream.received("primary")[-1].body["messages"][-1]["content"] == "capital of France?"


def test_no_prompt_in_a_terminal_shows_help_instead_of_waiting(config_path: Path, tmp_path: Path):
    child = spawn(config_path, tmp_path)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2 and "usage: llms" in child.before
