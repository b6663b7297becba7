"""A strict client for the fault suite: sends one chat request (streamed or not) over a real
loopback socket and classifies what came back, byte by byte:

- `answered`: 200, a well-formed answer whose text is exactly the expected echo; a stream
  must end with `data: [DONE]` after a finish_reason, every event valid JSON;
- `errored`: an HTTP error status with OpenAI's error envelope, or a 200 stream whose last
  event is an error envelope and that has no `[DONE]`;
- `lost`: anything else — no answer within the client's deadline (hung), a stream that
  ends cleanly without `[DONE]` or error (truncated as success), wrong text, malformed
  bytes, a connection cut without a word.

(The OpenAI SDK would accept a stream that just stops as a complete answer, so this client
reads the wire itself; the SDK is used on top in the end-to-end tests.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from .faults import expected

ANSWERED, ERRORED, LOST = "answered", "errored", "lost"


@dataclass
class Outcome:
    kind: str
    status: int = 0
    detail: str = ""
    text: str = ""
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    comments: int = 0  # SSE comment frames (keep-alives) seen

    @property
    def code(self) -> str | None:
        return (self.error or {}).get("code")


def _envelope(data: Any) -> dict[str, Any] | None:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        if isinstance(err.get("message"), str) and err["message"] and isinstance(err.get("type"), str):
            return err
    return None


def classify_json(status: int, raw: bytes, content: str) -> Outcome:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Outcome(LOST, status, f"body is not JSON: {raw[:80]!r}")
    if status != 200:
        err = _envelope(data)
        return Outcome(ERRORED, status, err["message"], error=err) if err else Outcome(LOST, status, "bad envelope")
    try:
        text = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return Outcome(LOST, status, "200 without choices")
    if text != expected(content):
        return Outcome(LOST, status, f"wrong text {text!r}", text=text)
    return Outcome(ANSWERED, status, text=text)


def classify_sse(raw: bytes, content: str) -> Outcome:
    """A 200 event stream, judged on its raw bytes."""
    if not raw.endswith(b"\n\n"):
        return Outcome(LOST, 200, "stream ends mid-event")
    events: list[Any] = []
    comments = 0
    for block in raw[:-2].split(b"\n\n"):
        if block.startswith(b":"):
            comments += 1
            continue
        if not block.startswith(b"data: ") or b"\n" in block:
            return Outcome(LOST, 200, f"malformed SSE block {block[:60]!r}")
        data = block[6:]
        if data == b"[DONE]":
            events.append("[DONE]")
            continue
        try:
            events.append(orjson.loads(data))
        except orjson.JSONDecodeError:
            return Outcome(LOST, 200, f"event is not JSON: {data[:60]!r}")
    if not events:
        return Outcome(LOST, 200, "empty stream", comments=comments)
    choices = [c for e in events if isinstance(e, dict) for c in e.get("choices") or ()]
    text = "".join((c.get("delta") or {}).get("content") or "" for c in choices)
    last = events[-1]
    if last == "[DONE]":
        if events.count("[DONE]") != 1:
            return Outcome(LOST, 200, "[DONE] twice")
        finished = any(c.get("finish_reason") for c in choices)
        if not finished or text != expected(content):
            return Outcome(LOST, 200, f"[DONE] on an incomplete answer {text!r}", text=text, comments=comments)
        return Outcome(ANSWERED, 200, text=text, comments=comments)
    err = _envelope(last)
    if err is not None and "[DONE]" not in events:
        return Outcome(ERRORED, 200, err["message"], text=text, error=err, comments=comments)
    return Outcome(LOST, 200, f"stream ended without [DONE] or error: {text!r}", text=text, comments=comments)


async def ask(
    session: aiohttp.ClientSession,
    url: str,
    model: str,
    content: str,
    *,
    stream: bool = True,
    headers: dict[str, str] | None = None,
    deadline: float = 30.0,
) -> Outcome:
    """One request, classified; never raises (a hang is `lost`, not a test crash)."""
    body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
    try:
        async with asyncio.timeout(deadline):
            async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as r:
                raw = await r.read()
                hdrs = {k.lower(): v for k, v in r.headers.items()}
                if r.status == 200 and r.content_type == "text/event-stream":
                    out = classify_sse(raw, content)
                else:
                    out = classify_json(r.status, raw, content)
                out.headers = hdrs
                return out
    except TimeoutError:
        return Outcome(LOST, 0, f"hung: no complete response within {deadline:g}s")
    except aiohttp.ClientPayloadError as e:
        return Outcome(LOST, 200, f"connection cut mid-body: {e}")
    except aiohttp.ClientError as e:
        return Outcome(LOST, 0, f"connection error: {type(e).__name__}: {e}")
