"""Round-trip edits of a JSON text: set one value by its key path and leave every other
character as it was (indentation, key order, unknown keys, line endings, a missing final
newline). The stdlib's own JSON scanner (`scanstring`, `raw_decode`) finds each value's span;
the edit splices new text into that span, so nothing else is re-serialised."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]  # (public, not in typeshed)
from pathlib import Path
from typing import Any

_WS = " \t\r\n"
_DECODER = json.JSONDecoder()


@dataclass(slots=True)
class Span:
    """Where one value sits in the text: `text[start:end]`. For an object, each key's
    position and its value's span (the last occurrence wins, as in `json.loads`)."""

    start: int
    end: int
    members: dict[str, tuple[int, Span]] | None = None
    first_key: int | None = None  # where the object's first key starts (for insertion)


@dataclass(slots=True)
class JsonText:
    """A JSON document held as text; `set(path, value)` edits it in place."""

    text: str
    root: Span = field(init=False)

    def __post_init__(self) -> None:
        json.loads(self.text)  # a clear error (line, column) for an invalid file
        self.root = _value(self.text, 0)

    def get(self, path: list[str]) -> Any:
        span = self._find(path)
        return None if span is None else json.loads(self.text[span.start : span.end])

    def set(self, path: list[str], value: Any) -> None:
        """Replace the value at `path`, or add the missing keys (first in their object,
        indented like their new siblings)."""
        span, depth = self.root, 0
        while depth < len(path):
            if span.members is None:
                raise ValueError(f"{'.'.join(path[:depth]) or 'the file'} is not an object")
            hit = span.members.get(path[depth])
            if hit is None:
                break
            span, depth = hit[1], depth + 1
        if depth == len(path):
            self._splice(span.start, span.end, _dump(value))
            return
        nested: Any = value
        for key in reversed(path[depth + 1 :]):
            nested = {key: nested}
        assert span.members is not None
        self._insert(span, path[depth], nested)

    def _find(self, path: list[str]) -> Span | None:
        span: Span | None = self.root
        for key in path:
            if span is None or span.members is None or key not in span.members:
                return None
            span = span.members[key][1]
        return span

    def _insert(self, obj: Span, key: str, value: Any) -> None:
        member = f"{_dump(key)}: {_dump(value)}"
        if obj.first_key is None:  # an empty object: `{}` → `{"key": value}`
            self._splice(obj.start, obj.end, "{" + member + "}")
            return
        gap = self.text[obj.start + 1 : obj.first_key]  # the newline and indent before the first key
        self._splice(obj.first_key, obj.first_key, member + "," + (gap or " "))

    def _splice(self, start: int, end: int, new: str) -> None:
        self.text = self.text[:start] + new + self.text[end:]
        self.root = _value(self.text, 0)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _value(text: str, i: int) -> Span:
    i = _skip(text, i)
    if text.startswith("{", i):
        return _object(text, i)
    if text.startswith("[", i):
        return _array(text, i)
    _, end = _DECODER.raw_decode(text, i)
    return Span(i, end)


def _object(text: str, start: int) -> Span:
    span = Span(start, start, {})
    assert span.members is not None
    i = _skip(text, start + 1)
    if text.startswith("}", i):
        span.end = i + 1
        return span
    span.first_key = i
    while True:
        key_at = i
        key, i = scanstring(text, i + 1)
        i = _skip(text, i) + 1  # past ':'
        value = _value(text, i)
        span.members[key] = (key_at, value)
        i = _skip(text, value.end)
        if text[i] == "}":
            span.end = i + 1
            return span
        i = _skip(text, i + 1)  # past ','


def _array(text: str, start: int) -> Span:
    i = _skip(text, start + 1)
    if text.startswith("]", i):
        return Span(start, i + 1)
    while True:
        i = _skip(text, _value(text, i).end)
        if text[i] == "]":
            return Span(start, i + 1)
        i += 1


def read(path: Path) -> JsonText:
    """The file as text, line endings untouched."""
    with open(path, encoding="utf-8", newline="") as f:
        return JsonText(f.read())


def write_atomically(path: Path, text: str) -> None:
    """A temp file beside the target, flushed, then renamed over it: a reader sees the old
    file or the new one, never half of one. Keeps the file's permission bits."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
