"""`POST /v1/messages/count_tokens` when the serving provider cannot count: an estimate.

About 4 characters of text per token (the usual rule for English with BPE tokenizers), plus a
few tokens per message and per tool for the chat template, and Anthropic's upper figure of
1,568 tokens per image (its documented size of a 1.15-megapixel image). Good enough for a
client deciding whether to compact its context; it is documented as an estimate, not a count."""

from __future__ import annotations

from typing import Any

import orjson

CHARS_PER_TOKEN = 4
PER_MESSAGE = 4
PER_IMAGE = 1568


def estimate_tokens(body: dict[str, Any]) -> int:
    """Estimated input tokens of a Messages request (system, messages, tools)."""
    chars = 0
    extra = 0
    system = body.get("system")
    if isinstance(system, str):
        chars += len(system)
    elif isinstance(system, list):
        chars += sum(len(b.get("text") or "") for b in system if isinstance(b, dict))
    for m in body.get("messages") or ():
        extra += PER_MESSAGE
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            chars += len(content)
            continue
        for block in content or ():
            c, e = _block_size(block)
            chars, extra = chars + c, extra + e
    for tool in body.get("tools") or ():
        chars += len(orjson.dumps(tool))
        extra += PER_MESSAGE
    return max(1, extra + (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


def _block_size(block: Any) -> tuple[int, int]:
    """(characters, extra tokens) of one content block."""
    if not isinstance(block, dict):
        return len(str(block)), 0
    kind = block.get("type")
    if kind in ("image", "document"):
        return 0, PER_IMAGE
    if kind == "text":
        return len(block.get("text") or ""), 0
    if kind == "thinking":
        return len(block.get("thinking") or ""), 0
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return len(content), PER_MESSAGE
        sizes = [_block_size(b) for b in content or ()]
        return sum(s[0] for s in sizes), PER_MESSAGE + sum(s[1] for s in sizes)
    return len(orjson.dumps(block)), 0  # tool_use and anything newer: its JSON
