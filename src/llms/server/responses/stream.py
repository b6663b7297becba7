"""Internal `chat.completion.chunk`s as the Responses API's typed stream events:

    response.created, response.in_progress,
    per output item: response.output_item.added,
        message:   response.content_part.added, response.output_text.delta…, response.output_text.done,
                   response.content_part.done
        reasoning: response.content_part.added, response.reasoning_text.delta…, response.reasoning_text.done,
                   response.content_part.done
        function_call: response.function_call_arguments.delta…, response.function_call_arguments.done
    response.output_item.done,
    response.completed (or response.incomplete)

After the commit point a failure is an `error` event followed by `response.failed`. One
`ResponseStream` per request: `feed(chunk)` → bytes (or None), `close()`, `fail(error)`."""

from __future__ import annotations

from typing import Any

import orjson

from ...core.errors import GatewayError
from .request import namespaces
from .response import call_item, finish, message_item, new_id, reasoning_item, shell, usage_of


class _Item:
    __slots__ = ("kind", "index", "id", "text", "call_id", "name", "done", "namespace")

    def __init__(self, kind: str, index: int, call_id: str = "", name: str = "", namespace: str | None = None) -> None:
        self.kind, self.index = kind, index
        self.id = new_id({"message": "msg", "reasoning": "rs", "function_call": "fc"}[kind])
        self.text = ""  # the text, reasoning or arguments so far
        self.call_id, self.name = call_id, name
        self.done = False
        self.namespace = namespace

    def full(self, status: str = "completed") -> dict[str, Any]:
        if self.kind == "message":
            return message_item(self.id, self.text) if status == "completed" else message_item(self.id, "", status)
        if self.kind == "reasoning":
            return (
                reasoning_item(self.id, self.text)
                if status == "completed"
                else {**reasoning_item(self.id, ""), "content": []}
            )
        return call_item(self.id, self.call_id, self.name, self.text, status, self.namespace)


class ResponseStream:
    __slots__ = ("response", "seq", "items", "current", "calls", "finish_reason", "usage", "started", "spaces")

    def __init__(self, body: dict[str, Any], model: str) -> None:
        self.response = shell(body, model, new_id("resp"), "in_progress")
        self.seq = 0
        self.items: list[_Item] = []
        self.current: _Item | None = None
        self.calls: dict[int, _Item] = {}  # OpenAI tool call index → its item
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.started = False
        self.spaces = namespaces(body)

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def start(self) -> bytes:
        self.started = True
        return self._event("response.created", response=self.response) + self._event(
            "response.in_progress", response=self.response
        )

    def feed(self, chunk: dict[str, Any]) -> bytes | None:
        out = b"" if self.started else self.start()
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out += self._text("reasoning", reasoning)
            if delta.get("content"):
                out += self._text("message", delta["content"])
            for call in delta.get("tool_calls") or ():
                out += self._call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out or None

    def close(self) -> bytes:
        out = b"" if self.started else self.start()
        out += self._close_current()
        for item in self.calls.values():
            out += self._close(item)
        response = dict(self.response)
        response["output"] = [i.full() for i in self.items]
        response["usage"] = usage_of(self.usage)
        finish(response, self.finish_reason)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return out + self._event(kind, response=response)

    def fail(self, error: GatewayError) -> bytes:
        """The in-band end of a stream that failed after its commit point."""
        out = b"" if self.started else self.start()
        out += self._event("error", code=error.code or error.type, message=error.message, param=error.param)
        response = {**self.response, "status": "failed", "output": [i.full("incomplete") for i in self.items]}
        response["error"] = {"code": "server_error", "message": error.message}
        return out + self._event("response.failed", response=response)

    def _open(self, item: _Item) -> bytes:
        self.items.append(item)
        out = self._event("response.output_item.added", output_index=item.index, item=item.full("in_progress"))
        if item.kind != "function_call":
            part = self._part(item, "")
            out += self._event(
                "response.content_part.added", item_id=item.id, output_index=item.index, content_index=0, part=part
            )
        return out

    def _part(self, item: _Item, text: str) -> dict[str, Any]:
        if item.kind == "reasoning":
            return {"type": "reasoning_text", "text": text}
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _text(self, kind: str, text: str) -> bytes:
        out = b""
        if self.current is None or self.current.kind != kind:
            out += self._close_current()
            self.current = _Item(kind, len(self.items))
            out += self._open(self.current)
        item = self.current
        item.text += text
        where = {"item_id": item.id, "output_index": item.index, "content_index": 0}
        if kind == "reasoning":
            return out + self._event("response.reasoning_text.delta", **where, delta=text)
        return out + self._event("response.output_text.delta", **where, delta=text, logprobs=[])

    def _call(self, call: dict[str, Any]) -> bytes:
        n = call.get("index", 0)
        fn = call.get("function") or {}
        out = b""
        item = self.calls.get(n)
        if item is None:
            out += self._close_current()
            name = fn.get("name") or ""
            item = _Item(
                "function_call", len(self.items), call.get("id") or new_id("call"), name, self.spaces.get(name)
            )
            self.calls[n] = item
            out += self._open(item)
        args = fn.get("arguments")
        if args:
            item.text += args
            out += self._event(
                "response.function_call_arguments.delta", item_id=item.id, output_index=item.index, delta=args
            )
        return out

    def _close_current(self) -> bytes:
        item, self.current = self.current, None
        return self._close(item) if item is not None else b""

    def _close(self, item: _Item) -> bytes:
        if item.done:
            return b""
        item.done = True
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "function_call":
            out = self._event("response.function_call_arguments.done", **where, name=item.name, arguments=item.text)
        else:
            kind = "response.reasoning_text.done" if item.kind == "reasoning" else "response.output_text.done"
            extra: dict[str, Any] = {} if item.kind == "reasoning" else {"logprobs": []}
            out = self._event(kind, **where, content_index=0, text=item.text, **extra)
            out += self._event("response.content_part.done", **where, content_index=0, part=self._part(item, item.text))
        return out + self._event("response.output_item.done", output_index=item.index, item=item.full())
