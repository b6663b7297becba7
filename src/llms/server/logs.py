"""Log lines nobody can forge: control characters in a record's message (a model name, an
upstream's error text, a path with `\\n` in it) are escaped, so every line on stderr is one
record; a traceback keeps its lines, each indented, so none of them can pass for a record."""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or (
        f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
    )


def escape_controls(text: str) -> str:
    return _CONTROL.sub(_escape, text)


class SafeFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        return "\n".join("  | " + escape_controls(line) for line in super().formatException(ei).splitlines())

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return "\n".join("  | " + escape_controls(line) for line in stack_info.splitlines())
