"""A fake upstream that speaks each vendor's wire protocol by replaying recorded transcripts
(tests/transcripts/<dialect>/) over a real loopback socket, and records what it received.

The path prefix names the dialect (`/anthropic/v1/messages`, `/google/v1beta/models/…`,
`/openai/v1/chat/completions`, `/ollama/api/chat`); the model id names the case. For case C it
answers a streamed request with `C.sse` / `C.ndjson`, a plain one with `C.json`, and either with
`C.<status>.json` as an HTTP error. Streams are written event by event, each split in two writes,
so the gateway's decoders see events cut at arbitrary points.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from ..fake_upstream import LoopbackServer

TRANSCRIPTS = Path(__file__).parent.parent / "transcripts"
DIALECTS = ("openai", "anthropic", "google", "ollama")
_GEMINI_PATH = re.compile(r"/models/([^/:]+):(generateContent|streamGenerateContent)$")
# A 1×1 PNG: the image of the image case, and what /assets/pixel.png serves.
PIXEL_PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
PIXEL_PNG = base64.b64decode(PIXEL_PNG_B64)


@dataclass
class Received:
    dialect: str
    case: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    stream: bool


class TranscriptUpstream(LoopbackServer):
    thread_name = "transcript-upstream"

    def __init__(self) -> None:
        super().__init__(handler_cancellation=False)
        self.calls: list[Received] = []

    def base_url(self, dialect: str) -> str:
        return f"http://127.0.0.1:{self.port}/{dialect}"

    def received(self, dialect: str, case: str | None = None) -> list[Received]:
        return [c for c in self.calls if c.dialect == dialect and (case is None or c.case == case)]

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/assets/pixel.png", self._pixel)
        app.router.add_get("/assets/page.html", self._page)
        app.router.add_route("*", "/{dialect}/{tail:.*}", self._handle)

    async def _pixel(self, request: web.Request) -> web.Response:
        return web.Response(body=PIXEL_PNG, content_type="image/png")

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        dialect = request.match_info["dialect"]
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        if dialect == "ollama" and request.path.endswith("/api/tags"):
            return _file_response(TRANSCRIPTS / "ollama" / "tags.json", 200)
        case, stream = _case_of(dialect, request.path, body)
        query, headers = dict(request.query), dict(request.headers)
        self.calls.append(Received(dialect, case, request.method, request.path, query, headers, body, stream))
        folder = TRANSCRIPTS / dialect
        for error_file in sorted(folder.glob(f"{case}.[0-9][0-9][0-9].json")):
            return _file_response(error_file, int(error_file.name.split(".")[-2]))
        if not stream:
            return _file_response(folder / f"{case}.json", 200)
        ext = "ndjson" if dialect == "ollama" else "sse"
        return await self._stream(request, folder / f"{case}.{ext}", dialect, body)

    async def _stream(self, request: web.Request, path: Path, dialect: str, body: Any) -> web.StreamResponse:
        if not path.exists():
            return web.json_response({"error": {"message": f"no transcript {path.name}"}}, status=404)
        data = path.read_bytes()
        content_type = "application/x-ndjson" if dialect == "ollama" else "text/event-stream"
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        for event in _events(data, dialect):
            if dialect == "openai" and not _wants_usage(body) and b'"choices":[]' in event:
                continue  # OpenAI sends the usage chunk only when asked
            half = len(event) // 2
            await resp.write(event[:half])
            await resp.write(event[half:])
        await resp.write_eof()
        return resp


def _case_of(dialect: str, path: str, body: Any) -> tuple[str, bool]:
    if dialect == "google":
        m = _GEMINI_PATH.search(path)
        return (m.group(1), m.group(2) == "streamGenerateContent") if m else ("", False)
    model = body.get("model", "") if isinstance(body, dict) else ""
    default_stream = dialect == "ollama"  # Ollama streams unless told not to
    return model, bool(body.get("stream", default_stream)) if isinstance(body, dict) else False


def _wants_usage(body: Any) -> bool:
    options = body.get("stream_options") if isinstance(body, dict) else None  # any shape: fuzzed bodies
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _events(data: bytes, dialect: str) -> list[bytes]:
    """The transcript cut at its event boundaries (blank line for SSE, newline for NDJSON)."""
    sep = b"\n" if dialect == "ollama" else (b"\r\n\r\n" if b"\r\n" in data else b"\n\n")
    return [piece + sep for piece in data.split(sep) if piece.strip()]


def _file_response(path: Path, status: int) -> web.Response:
    if not path.exists():
        return web.json_response({"error": {"message": f"no transcript {path.name}"}}, status=404)
    return web.Response(body=path.read_bytes(), status=status, content_type="application/json")
