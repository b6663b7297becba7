"""The chat request the command line sends, built the way llms.py builds it: a template
(`defaults.text`, or `defaults.image/audio/file` when one is attached, or `--chat FILE`, or a
chat JSON piped on stdin), then the system prompt, the prompt, the attachments and `--args`.

Attachments: a local path becomes a data URI (for audio, OpenAI's base64 + format); a URL or a
data URI is passed through as given — never fetched here."""

from __future__ import annotations

import base64
import copy
import json
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

# llms.py's default templates, for an llms.json that does not define them.
TEMPLATES: dict[str, dict[str, Any]] = {
    "text": {"messages": [{"role": "user", "content": ""}]},
    "image": {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": ""}},
        {"type": "text", "text": "Describe the key features of the input image"},
    ]}]},
    "audio": {"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "", "format": "mp3"}},
        {"type": "text", "text": "Please transcribe and summarize this audio file"},
    ]}]},
    "file": {"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "", "file_data": ""}},
        {"type": "text", "text": "Please summarize this document"},
    ]}]},
    "check": {"messages": [{"role": "user", "content": "1+1="}], "max_completion_tokens": 16, "stream": False},
}  # fmt: skip

# `--args` keys llms.py coerces by name when the value did not already look like its type.
INT_ARGS = frozenset({"max_completion_tokens", "max_tokens", "n", "seed", "top_logprobs"})
FLOAT_ARGS = frozenset({"temperature", "top_p", "frequency_penalty", "presence_penalty"})
BOOL_ARGS = frozenset({"store", "logprobs", "enable_thinking", "parallel_tool_calls", "stream"})


class UsageError(Exception):
    """The command line asked for something that cannot be sent (exit code 2)."""


def template(defaults: dict[str, Any], kind: str) -> dict[str, Any]:
    """A deep copy of `defaults.<kind>` from llms.json, else llms.py's built-in one."""
    found = defaults.get(kind)
    base = found if isinstance(found, dict) and found else TEMPLATES[kind]
    out = copy.deepcopy(base)
    if "messages" not in out:
        out["messages"] = copy.deepcopy(TEMPLATES["text"]["messages"])
    return out


def chat_json(text: str, where: str) -> dict[str, Any] | None:
    """A chat-completion request in `text` (an object with a `messages` list), else None."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return data
    if where != "stdin":
        raise UsageError(f"{where}: expected a chat completion request (an object with `messages`)")
    return None


def load_chat_file(path: str) -> dict[str, Any]:
    """`--chat FILE`, relative to the working directory."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--chat {path}: {e.strerror or e}") from None
    chat = chat_json(text, f"--chat {path}")
    if chat is None:
        raise UsageError(f"--chat {path}: not valid JSON")
    return chat


def set_prompt(chat: dict[str, Any], prompt: str) -> None:
    """The prompt becomes the text of the last user message (or a new one at the end)."""
    messages = chat.setdefault("messages", [])
    last = messages[-1] if messages else None
    if last is None or last.get("role") != "user":
        messages.append({"role": "user", "content": prompt})
        return
    content = last.get("content")
    if isinstance(content, list):
        texts = [part for part in content if isinstance(part, dict) and part.get("type") == "text"]
        if texts:
            texts[-1]["text"] = prompt
        else:
            content.append({"type": "text", "text": prompt})
    else:
        last["content"] = prompt


def has_prompt(chat: dict[str, Any]) -> bool:
    """True when the last message says something (text or an attachment)."""
    messages = chat.get("messages") or []
    if not messages:
        return False
    content = messages[-1].get("content")
    if isinstance(content, list):
        return any(part.get("type") != "text" or part.get("text") for part in content if isinstance(part, dict))
    return bool(content)


def add_system(chat: dict[str, Any], system: str) -> None:
    chat.setdefault("messages", []).insert(0, {"role": "system", "content": system})


# -- attachments ---------------------------------------------------------------------------------


def data_uri(ref: str, flag: str) -> str:
    """A URL or data URI as given; a local file read into a data URI."""
    if ref.startswith(("http://", "https://", "data:")):
        return ref
    path = Path(ref).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{flag} {ref}: {e.strerror or e}") from None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def attach(chat: dict[str, Any], kind: str, ref: str) -> None:
    """Put the attachment into the first user message: fill the template's empty part of
    that type, else add one before the text."""
    part = _part(kind, ref)
    user = next((m for m in chat.get("messages") or [] if m.get("role") == "user"), None)
    if user is None:
        user = {"role": "user", "content": []}
        chat.setdefault("messages", []).append(user)
    content = user.get("content")
    if not isinstance(content, list):
        user["content"] = [part] + ([{"type": "text", "text": content}] if content else [])
        return
    for i, existing in enumerate(content):
        if isinstance(existing, dict) and existing.get("type") == part["type"]:
            content[i] = part
            return
    content.insert(0, part)


def _part(kind: str, ref: str) -> dict[str, Any]:
    uri = data_uri(ref, f"--{kind}")
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": uri}}
    if kind == "file":
        name = ref.rsplit("/", 1)[-1] if not ref.startswith("data:") else "file"
        return {"type": "file", "file": {"filename": name, "file_data": uri}}
    # OpenAI's input_audio wants bare base64 and a format; a URL goes through untouched
    if uri.startswith("data:"):
        head, _, data = uri.partition(",")
        mime = head[5:].split(";")[0]
        fmt = {"audio/mpeg": "mp3", "audio/x-wav": "wav", "audio/wav": "wav"}.get(mime, mime.rsplit("/", 1)[-1])
        return {"type": "input_audio", "input_audio": {"data": data, "format": fmt or "mp3"}}
    fmt = ref.rsplit(".", 1)[-1].lower() if "." in ref.rsplit("/", 1)[-1] else "mp3"
    return {"type": "input_audio", "input_audio": {"data": uri, "format": fmt}}


# -- --args ----------------------------------------------------------------------------------------


def parse_args(text: str) -> dict[str, Any]:
    """`"temperature=0.7&seed=111&stop=a,b"` → typed values, as llms.py reads them: true/false
    → bool, integers → int, other numbers → float, else the string; a repeated key → a list."""
    out: dict[str, Any] = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        out[key] = _scalar(values[0]) if len(values) == 1 else values
    for key, value in out.items():
        if not isinstance(value, str):
            continue
        if key == "stop" and "," in value:
            out[key] = value.split(",")
        elif key in INT_ARGS or key in FLOAT_ARGS or key in BOOL_ARGS:
            raise UsageError(f"--args: {key}={value!r} is not a {_kind(key)}")
    return out


def _scalar(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _kind(key: str) -> str:
    return "number" if key in INT_ARGS or key in FLOAT_ARGS else "boolean (true/false)"
