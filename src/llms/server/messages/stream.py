"""Internal `chat.completion.chunk`s as Anthropic's exact SSE event sequence:

    message_start, ping,
    (content_block_start, content_block_delta…, content_block_stop)  per thinking / text / tool_use block,
    message_delta (stop_reason, usage), message_stop

One `MessageStream` per streamed request: `feed(chunk)` returns the bytes of the events a chunk
makes (possibly none), `close()` the closing events once the stream is complete. Input tokens are
known only at the end of an OpenAI stream, so `message_start` says 0 and `message_delta` carries
the real `input_tokens` (Anthropic's SDKs take it from there)."""

from __future__ import annotations

from typing import Any

import orjson

from .response import new_message_id, stop_reason, usage_of


def event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageStream:
    """Folds chunks into Messages stream events; see the module docstring."""

    __slots__ = ("model", "id", "started", "index", "open", "tools", "finish", "usage")

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = new_message_id()
        self.started = False
        self.index = -1  # the content block being written
        self.open: str | None = None  # its kind: "thinking", "text", "tool_use"
        self.tools: dict[int, int] = {}  # OpenAI tool call index → content block index
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def start(self) -> bytes:
        self.started = True
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return event("message_start", {"type": "message_start", "message": message}) + event("ping", {"type": "ping"})

    def feed(self, chunk: dict[str, Any]) -> bytes | None:
        out = b"" if self.started else self.start()
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # Messages has one answer; n > 1 is not asked by this codec
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out += self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out += self._delta({"type": "thinking_delta", "thinking": reasoning})
            if delta.get("content"):
                out += self._block("text", {"type": "text", "text": ""})
                out += self._delta({"type": "text_delta", "text": delta["content"]})
            for call in delta.get("tool_calls") or ():
                out += self._tool(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return out or None

    def close(self) -> bytes:
        """`content_block_stop` of the last block, `message_delta` and `message_stop`."""
        out = b"" if self.started else self.start()
        out += self._stop()
        usage = usage_of(self.usage)
        delta = {"stop_reason": stop_reason(self.finish), "stop_sequence": None}
        out += event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
        return out + event("message_stop", {"type": "message_stop"})

    def _stop(self) -> bytes:
        if self.open is None:
            return b""
        self.open = None
        return event("content_block_stop", {"type": "content_block_stop", "index": self.index})

    def _block(self, kind: str, block: dict[str, Any]) -> bytes:
        if self.open == kind and kind != "tool_use":
            return b""
        out = self._stop()
        self.index += 1
        self.open = kind
        return out + event(
            "content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block}
        )

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        i = self.index if index is None else index
        return event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})

    def _tool(self, call: dict[str, Any]) -> bytes:
        n = call.get("index", 0)
        fn = call.get("function") or {}
        out = b""
        if n not in self.tools:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{self.id[4:]}_{n}",
                "name": fn.get("name") or "",
                "input": {},
            }
            out += self._block("tool_use", block)
            self.tools[n] = self.index
        args = fn.get("arguments")
        if args:
            # A late delta for an earlier call (interleaved parallel calls) still names its block.
            out += self._delta({"type": "input_json_delta", "partial_json": args}, self.tools[n])
        return out
