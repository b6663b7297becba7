"""The stream driver: runs one streamed answer from the router's committed stream to the client,
knowing no wire format (the codec gives it headers and frames). It owns

- the commit point: until the router hands over a stream, a failure is a real HTTP error (the
  handler's); once the first frame is out, errors travel in-band and the stream ends without
  the codec's `done` frame — never a silent clean end on a truncated answer;
- heartbeats and slow readers (`keepalive.Heartbeat`);
- shutdown: at the deadline (`cut`) a stream ends with an in-band error and a clean end;
- the record: usage (one accumulator, always fed, so usage is known whether or not the client
  asked for it), and the outcome `truncated` or `cancelled` when the stream did not complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from aiohttp import web

from ..core.accumulate import StreamAccumulator
from ..core.errors import ClientError, GatewayError, UpstreamStatusError
from ..core.types import Chunk, RequestRecord
from .call import Call
from .keepalive import Heartbeat

SHUTTING_DOWN = GatewayError(
    "The gateway stopped before the answer was complete (shutting down)", status=503, code="shutting_down"
)
DISCONNECTED = "client disconnected"
TOO_SLOW = "client too slow, cut off"


class StreamCodec(Protocol):
    """The frames of one wire format (`openai_chat.STREAM` is one). An encoder that keeps state
    across a stream (Anthropic Messages, OpenAI Responses) may also have `close() -> bytes`,
    the end it writes instead of `done`, and `fail(error) -> bytes`, its in-band error."""

    content_type: str
    done: bytes

    def headers(self, record: RequestRecord) -> dict[str, str]: ...
    def error(self, error: GatewayError) -> bytes: ...
    def chunk_encoder(self, call: Call) -> Callable[[Chunk], bytes | None]: ...


class StreamDriver:
    """One per server; `cutting` turns true at the shutdown deadline."""

    def __init__(self) -> None:
        self.cutting = False
        self.streams = 0  # answers being streamed now (past the commit point), for /metrics

    async def run(
        self,
        request: web.Request,
        call: Call,
        opening: Awaitable[AsyncIterator[Chunk]],
        codec: StreamCodec,
        keepalive: float,
        write_timeout: float,
        content: bool = False,
    ) -> web.StreamResponse:
        """Stream the answer `opening` gives. An error before anything was sent propagates (the
        handler answers it with an HTTP status); later ones end the stream in-band."""
        record = call.record
        response = web.StreamResponse()
        response.content_type = codec.content_type
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        response.headers["x-request-id"] = record.id  # also when keep-alive frames start it early
        if record.headers:
            response.headers.update(record.headers)
        beat = Heartbeat(request, response, keepalive, write_timeout)
        acc = StreamAccumulator(content=content)
        stream = None
        encode = codec.chunk_encoder(call)
        fail = getattr(encode, "fail", codec.error)
        counted = False
        try:
            try:
                stream = await opening
            finally:
                await beat.settle()
            if not beat.started:
                response.headers.update(codec.headers(record))
                beat.started = True
                await response.prepare(request)
            record.status = 200
            self.streams += 1
            counted = True
            write = response.write
            add = acc.add
            async for chunk in stream:
                add(chunk.data)
                frame = encode(chunk)
                if frame is None:
                    continue
                beat.pending += 1
                await write(frame)
                beat.pending -= 1
                beat.writes += 1
            # The done frame and the end of the chunked body in one write: a client that stops
            # reading at [DONE] then holds a complete response and keeps its connection (before,
            # ~1 in 8 sequential streams reconnected, because the end came only after our cleanup).
            close = getattr(encode, "close", None)
            await response.write_eof(codec.done if close is None else close())
        except GatewayError as e:
            if not beat.started:
                raise  # nothing sent yet: a real HTTP error status
            # Past the commit point: the error travels in-band and the stream ends, no done frame.
            # (Nothing streamed yet — keep-alive frames had started it: the request simply failed.)
            _ended(record, "truncated" if acc.chunks else outcome_of(e), e)
            await _write_quietly(response, fail(e))
        except ConnectionError:
            _ended(record, "cancelled", TOO_SLOW if beat.aborted else DISCONNECTED)
        except asyncio.CancelledError:
            if not (self.cutting and beat.started):
                _ended(record, "cancelled", TOO_SLOW if beat.aborted else DISCONNECTED)
                raise
            # The shutdown deadline: end the stream properly (an error event, then a clean end).
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            _ended(record, "truncated", SHUTTING_DOWN)
            await _end_in_band(response, fail(SHUTTING_DOWN))
        finally:
            beat.stop()
            if counted:
                self.streams -= 1
            record.usage = acc.usage
            if content:
                record.content = {"request": call.body, "response": acc.result()}
            if beat.started:
                record.status = 200
            if stream is not None:
                await stream.aclose()  # type: ignore[attr-defined]
        return response


def outcome_of(error: GatewayError) -> str:
    """The ledger's outcome for a request answered with `error` (status or in-band)."""
    if isinstance(error, ClientError) or (isinstance(error, UpstreamStatusError) and not error.retryable):
        return "client_error"
    if error is SHUTTING_DOWN:
        return "cancelled"
    if error.type == "timeout":
        return "timeout"
    return "upstream_error"


def _ended(record: RequestRecord, outcome: str, error: GatewayError | str) -> None:
    record.outcome = outcome
    record.error = error


async def _end_in_band(response: web.StreamResponse, frame: bytes) -> None:
    """Write the error frame and end the response cleanly (quietly, if the client is gone)."""
    try:
        await response.write(frame)
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        pass


async def _write_quietly(response: web.StreamResponse, data: bytes) -> None:
    try:
        await response.write(data)
    except (ConnectionError, RuntimeError):  # client gone, or the transport already closed
        pass
