"""Incremental decoders for upstream streams: Server-Sent Events and NDJSON.

Hand-written on purpose: the maintained SSE parsers for Python (httpx-sse, the one inside
openai-python) are bound to httpx; ours is fed raw bytes from aiohttp as they arrive and
keeps event data as bytes so orjson can parse it without a decode step.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.types import MAX_UPSTREAM_EVENT

# The largest SSE event (all its `data:` lines) a decoder holds by default; past it the
# stream is broken, not slow (an endless event once grew the process to 5.6 GB).
MAX_EVENT = MAX_UPSTREAM_EVENT


class StreamTooLarge(ValueError):
    """An upstream stream broke a size limit (one event, one line); the transport turns it
    into a protocol error for the provider that sent it."""


def size_text(n: int) -> str:
    """`16 MiB` for whole MiBs, else bytes (limits in messages read like the config)."""
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n & ((1 << 20) - 1) else f"{n} bytes"


@dataclass(slots=True)
class SSEEvent:
    data: bytes
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Feed bytes in any split; get whole events out (per the WHATWG event-stream rules:
    CRLF, LF or CR line ends, multi-line `data:`, `:` comments ignored). An event whose data
    grows past `max_event` bytes raises `StreamTooLarge` (the line itself is bounded by the
    transport's read loop)."""

    __slots__ = ("_buf", "_tail", "_data", "_event", "_id", "_size", "_max")

    def __init__(self, max_event: int = MAX_EVENT) -> None:
        self._buf = b""
        self._size = 0  # bytes of `_data` (only the general path holds partial events)
        self._max = max_event
        # Pieces of a line still without its end, kept unjoined so a long line arriving in
        # many reads costs linear time, not quadratic.
        self._tail: list[bytes] = []
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if (
            not self._buf
            and not self._tail
            and not self._data
            and self._event is None
            and chunk.endswith(b"\n\n")
            and b"\r" not in chunk
        ):
            whole = self._whole_data_events(chunk)
            if whole is not None:
                return whole
        if b"\n" not in chunk and b"\r" not in chunk:
            self._tail.append(chunk)
            return []
        buf = self._joined() + chunk
        if b"\r" in buf:
            # A trailing CR may be the first half of CRLF: keep it for the next feed.
            hold = buf.endswith(b"\r")
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if hold:
                buf += b"\r"
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            self._line(buf[start:end], events)
            start = end + 1
        self._buf = buf[start:]
        return events

    def _whole_data_events(self, chunk: bytes) -> list[SSEEvent] | None:
        """The shape nearly every upstream sends — whole one-line `data:` events, LF line
        ends, nothing left over — without the line-by-line walk (hot path: once per chunk of
        every stream); None for anything else, which the general path then decodes."""
        events: list[SSEEvent] = []
        for part in chunk[:-2].split(b"\n\n"):
            if not part.startswith(b"data:") or b"\n" in part:
                return None
            value = part[5:]
            if value[:1] == b" ":
                value = value[1:]
            events.append(SSEEvent(value, None, self._id))
        return events

    def _joined(self) -> bytes:
        if self._tail:
            self._buf += b"".join(self._tail)
            self._tail = []
        return self._buf

    def flush(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line still counts."""
        events: list[SSEEvent] = []
        rest = self._joined().rstrip(b"\r")
        if rest:
            self._line(rest, events)
        self._buf = b""
        self._line(b"", events)
        return events

    @property
    def pending(self) -> bool:
        """True when a partial event is buffered (the stream was cut mid-event)."""
        return bool(self._joined().strip() or self._data)

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                out.append(SSEEvent(b"\n".join(self._data), self._event, self._id))
            self._data, self._event, self._size = [], None, 0
            return
        if line[0] == 58:  # b":" — a comment / keep-alive
            return
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._size += len(value) + 1
            if self._size > self._max:
                raise StreamTooLarge(f"an SSE event is over {size_text(self._max)}")
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            self._id = value.decode("utf-8", "replace")


class NDJSONDecoder:
    """Feed bytes in any split; get whole non-empty lines (one JSON document each)."""

    __slots__ = ("_buf", "_tail")

    def __init__(self) -> None:
        self._buf = b""
        self._tail: list[bytes] = []  # pieces of a line without its end (linear, as above)

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" not in chunk:
            self._tail.append(chunk)
            return []
        *lines, self._buf = (self._buf + b"".join(self._tail) + chunk).split(b"\n")
        self._tail = []
        return [line for line in (x.strip() for x in lines) if line]

    def flush(self) -> list[bytes]:
        rest, self._buf = (self._buf + b"".join(self._tail)).strip(), b""
        self._tail = []
        return [rest] if rest else []
