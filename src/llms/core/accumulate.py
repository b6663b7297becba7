"""Folds a stream of `chat.completion.chunk`s into the `chat.completion` it stands for, so
streamed and non-streamed calls give one result shape (for usage logs and parity tests)."""

from __future__ import annotations

from typing import Any


class StreamAccumulator:
    """Feed every chunk to `add`; `result()` returns the complete response. With
    `content=False` it keeps only the usage (what the ledger needs on every stream), at the
    cost of one key lookup per chunk."""

    __slots__ = ("id", "model", "created", "usage", "chunks", "content", "_choices")

    def __init__(self, content: bool = True) -> None:
        self.content = content
        self.id = ""
        self.model = ""
        self.created = 0
        self.usage: dict[str, Any] | None = None
        self.chunks = 0
        self._choices: dict[int, dict[str, Any]] = {}

    def add(self, chunk: dict[str, Any]) -> None:
        self.chunks += 1
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        if not self.content:
            return
        self.id = self.id or chunk.get("id", "")
        self.model = self.model or chunk.get("model", "")
        self.created = self.created or chunk.get("created", 0)
        for choice in chunk.get("choices") or ():
            self._add_choice(choice)

    def _add_choice(self, choice: dict[str, Any]) -> None:
        index = choice.get("index", 0)
        acc = self._choices.setdefault(
            index, {"index": index, "message": {"role": "assistant", "content": None}, "finish_reason": None}
        )
        if choice.get("finish_reason"):
            acc["finish_reason"] = choice["finish_reason"]
        if choice.get("logprobs"):
            acc.setdefault("logprobs", {"content": []})["content"].extend(choice["logprobs"].get("content") or [])
        delta = choice.get("delta") or {}
        message = acc["message"]
        for key, value in delta.items():
            if value is None:
                continue
            if key == "role":
                message["role"] = value
            elif key == "tool_calls":
                _merge_tool_calls(message.setdefault("tool_calls", []), value)
            elif isinstance(value, str):
                message[key] = (message.get(key) or "") + value
            else:
                message[key] = value

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [self._choices[i] for i in sorted(self._choices)],
        }
        if self.usage is not None:
            out["usage"] = self.usage
        return out


def _merge_tool_calls(calls: list[dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    for delta in deltas:
        index = delta.get("index", len(calls))
        while len(calls) <= index:
            calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        call = calls[index]
        if delta.get("id"):
            call["id"] = delta["id"]
        if delta.get("type"):
            call["type"] = delta["type"]
        fn = delta.get("function") or {}
        if fn.get("name"):
            call["function"]["name"] += fn["name"]
        if fn.get("arguments"):
            call["function"]["arguments"] += fn["arguments"]
