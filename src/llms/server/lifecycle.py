"""Stopping the HTTP server gracefully: serve on while readiness already says 503, stop
accepting, let the chat requests in flight finish within the grace period, then end the rest
(streams in-band). The composition root calls `drain` on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .app import CHAT
from .chat import ChatHandler

log = logging.getLogger("llms")


async def drain(
    runner: web.AppRunner, close: Callable[[], Awaitable[None]], grace: float, delay: float = 0.0
) -> None:
    """Serve on for `delay` seconds (readiness already says 503), then stop accepting (the
    listening socket and idle keep-alive connections close), give the chat requests in flight
    up to `grace` seconds, then end the rest — streams with an in-band error and a clean end,
    others with a 503 — and `close()` what the app built (the upstream connections). A second SIGTERM/SIGINT cuts the
    wait short."""
    loop = asyncio.get_running_loop()
    again = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, again.set)
    chat = runner.app[CHAT]
    started = time.monotonic()
    if delay > 0:
        log.warning("shutting down: not ready, still serving for %gs", delay)
        await _first(asyncio.sleep(delay), again.wait())
    log.warning("shutting down: %d requests in flight get up to %gs", len(chat.active), grace)
    for site in list(runner.sites):
        await site.stop()
    if runner.server is not None:
        runner.server.pre_shutdown()
    await _first(_until_idle(chat, grace), again.wait())
    if chat.active:
        log.warning("shutdown deadline: ending %d requests still in flight", chat.cut())
        await _until_idle(chat, 2.0)
    await runner.cleanup()
    await close()
    log.warning("stopped after %.1fs", time.monotonic() - started)


async def _first(*coros: Any) -> None:
    """Wait for the first of `coros` to finish; cancel the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()


async def _until_idle(chat: ChatHandler, timeout: float) -> None:
    end = time.monotonic() + timeout
    while chat.active and time.monotonic() < end:
        await asyncio.sleep(0.05)
