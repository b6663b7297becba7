"""The log formats: human-readable text (the default) and `--log-format json`, one JSON object
per line. Either way a log line about a request carries its id, no text can start a line of
its own, and no configured secret is written.

Records go through a queue to a thread that formats and writes them, so the event loop does
no logging I/O. On the loop side (`Prepare`) each record gets the request id of the task
that logged it (`core.outbound`), and its message is rendered once (a text line escapes its
control characters there: a client's model name with a newline in it cannot forge a line; a
traceback keeps its lines, each indented and escaped, so none of them can pass for a record).
On the writer thread `TextFormatter` or `JsonFormatter` builds the line and blanks every
secret the gateway knows (provider keys), a backstop behind the transport's scrubbing.

A JSON line has `time` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id` when
there is one, and the structured fields a caller passed as `extra={"fields": {...}}` (the
access line's model, provider, status, latency_ms, …)."""

from __future__ import annotations

import io
import logging
import logging.handlers
import queue
import re
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

from ..core.outbound import current_request_id

FORMATS = ("text", "json")
REDACTED = "[redacted]"
_LINE_BREAKS = re.compile("[\u2028\u2029\u0085]")  # what orjson leaves as is
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]")


def _escape(text: str) -> str:
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class Prepare(logging.Formatter):
    """Loop side: the request id onto the record, the message rendered (escaped for text),
    the traceback appended as the queue handler expects."""

    def __init__(self, escape: bool) -> None:
        super().__init__()
        self.escape = escape

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        message = record.getMessage()
        if self.escape:
            message = _escape(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            trace = record.exc_text
            if self.escape:  # each traceback line indented and escaped: none can pass for a record
                trace = "\n".join("  | " + _escape(line) for line in trace.splitlines())
            message = f"{message}\n{trace}"
        return message


class _Redacting(logging.Formatter):
    """Blanks every known secret in the finished line."""

    secrets: tuple[str, ...] = ()

    def set_secrets(self, secrets: Iterable[str | None]) -> None:
        """The secrets to blank from now on (longest first, so a key containing another goes whole)."""
        self.secrets = tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))

    def redact(self, line: str) -> str:
        for secret in self.secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        return line


class TextFormatter(_Redacting):
    """`2026-01-01 12:00:00,000 INFO llms.access: [req_…] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        line = super().format(record)
        if rid and rid not in record.getMessage():
            line = line.replace(": ", f": [{rid}] ", 1)
        return self.redact(line)


class JsonFormatter(_Redacting):
    """One JSON object per line: orjson escapes the control characters inside strings, and
    the Unicode line and paragraph separators (and NEL) are escaped here."""

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                out.setdefault(str(key), value)
        line = orjson.dumps(out, default=str).decode()
        if _LINE_BREAKS.search(line):  # valid JSON unescaped, but line breaks to many readers
            line = _LINE_BREAKS.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
        return self.redact(line)


class LineLogger(io.TextIOBase):
    """A text stream whose every line becomes a log record: the start-up banner goes out as
    JSON lines too when the logs are JSON, so a collector reading the output parses it all."""

    def __init__(self, logger: logging.Logger, level: int = logging.WARNING) -> None:
        self.logger, self.level, self._partial = logger, level, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self.logger.log(self.level, "%s", line.strip())
        return len(text)


def install(fmt: str = "text", level: int = logging.WARNING, stream: TextIO | None = None) -> tuple[
    logging.handlers.QueueListener, _Redacting
]:  # fmt: skip
    """Route the root logger through a queue to `stream` (stderr) in `fmt`; returns the
    started listener (stop it at exit) and the formatter (give it the secrets to blank)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: _Redacting = JsonFormatter() if fmt == "json" else TextFormatter()
    handler.setFormatter(formatter)
    listener = logging.handlers.QueueListener(q, handler)
    on_loop = logging.handlers.QueueHandler(q)
    on_loop.setFormatter(Prepare(escape=fmt == "text"))
    root = logging.getLogger()
    root.handlers[:] = [on_loop]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    listener.start()
    return listener, formatter
