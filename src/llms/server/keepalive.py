"""Keeps one SSE response alive and bounded while it waits on the upstream or the client.

- Silence: after `interval` seconds without a frame, a `: keep-alive` comment goes out, so
  proxies and load balancers do not cut an idle stream. Before the first chunk this starts
  the response early (200 + headers); a failure after that travels in-band.
- Slow readers: when a write has waited `write_timeout` seconds for a client that reads
  nothing, the connection is aborted. The gateway never buffers more than the socket's
  high-water mark per stream (aiohttp waits for the client to drain), and a stuck client
  cannot hold the upstream stream open forever.

One timer per stream, ticking at half the shortest limit; the stream loop only bumps two
counters per frame (no clock reads, no allocation).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

KEEPALIVE = b": keep-alive\n\n"


class Heartbeat:
    __slots__ = (
        "_request",
        "_response",
        "_interval",
        "_write_timeout",
        "_tick_every",
        "_loop",
        "_handle",
        "_task",
        "_seen",
        "_quiet_since",
        "writes",
        "pending",
        "started",
        "aborted",
    )

    def __init__(
        self, request: web.Request, response: web.StreamResponse, interval: float, write_timeout: float
    ) -> None:
        self._request = request
        self._response = response
        self._interval = interval
        self._write_timeout = write_timeout
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._seen = 0
        self._quiet_since = self._loop.time()
        self.writes = 0  # frames the client has taken (the stream loop bumps it)
        self.pending = 0  # writes waiting for the client to read
        self.started = False  # the response (status + headers) has been started
        self.aborted = False
        limits = [x for x in (interval, write_timeout) if x > 0]
        self._tick_every = min(limits) / 2 if limits else 0.0
        self._handle = self._loop.call_later(self._tick_every, self._tick) if limits else None

    def _tick(self) -> None:
        now = self._loop.time()
        if self.writes != self._seen:
            self._seen, self._quiet_since = self.writes, now
        elif self.pending:
            if self._write_timeout and now - self._quiet_since >= self._write_timeout:
                self.aborted = True
                transport = self._request.transport
                if transport is not None:
                    transport.abort()  # the blocked write raises; the stream's finally closes upstream
                return
        elif self._interval and now - self._quiet_since >= self._interval and self._task is None:
            self._task = self._loop.create_task(self._beat())
        self._handle = self._loop.call_later(self._tick_every, self._tick)

    async def _beat(self) -> None:
        try:
            if not self.started:
                self.started = True
                await self._response.prepare(self._request)
            self.pending += 1
            await self._response.write(KEEPALIVE)
            self.pending -= 1
            self.writes += 1
        except (ConnectionError, RuntimeError):
            pass  # the client is gone: the stream loop finds out on its own
        finally:
            self._task = None

    async def settle(self) -> None:
        """Wait for a keep-alive write in progress (so the response is not started twice)."""
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._task is not None:
            self._task.cancel()
