"""`--enable/--disable PROVIDER…` and `--default MODEL`: the only commands that write
`llms.json`, because the user asked. The edit keeps the file's formatting, key order and
unknown keys (see `jsonedit`), is written atomically, and says which file changed. Without
a home `llms.json` yet, the packaged default is copied there first (as llms.py does)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from ..app import init_home
from . import jsonedit
from .request import UsageError


def target(config: str | None, out: TextIO) -> Path:
    if config:
        path = Path(config).expanduser()
        if not path.exists():
            raise UsageError(f"--config {config}: no such file")
        return path
    path, written = init_home()
    if written:
        print(f"created {path} from the packaged default", file=out)
    return path


def set_enabled(config: str | None, names: list[str], enabled: bool, out: TextIO) -> int:
    path = target(config, out)
    doc = _read(path)
    providers = doc.get(["providers"]) or {}
    names = [n.rstrip(",").strip() for n in names if n.rstrip(",").strip()]  # llms.py accepts "a, b"
    unknown = [n for n in names if n not in providers]
    if unknown:
        raise UsageError(f"{path}: no provider {', '.join(unknown)} (known: {', '.join(providers)})")
    for name in names:
        _set(doc, path, ["providers", name, "enabled"], enabled)
    jsonedit.write_atomically(path, doc.text)
    print(f"{'enabled' if enabled else 'disabled'} {', '.join(names)} in {path}", file=out)
    for name in names if enabled else ():
        key = providers[name].get("api_key")
        if isinstance(key, str) and key.startswith("$") and not os.environ.get(key[1:]):
            print(f"  {name} needs {key} to be set", file=out)
    return 0


def set_default(config: str | None, model: str, out: TextIO) -> int:
    path = target(config, out)
    doc = _read(path)
    providers = doc.get(["providers"]) or {}
    known = {alias for entry in providers.values() if isinstance(entry, dict) for alias in entry.get("models") or {}}
    if model not in known:
        raise UsageError(f"{path}: no provider serves a model {model!r} (see llms ls)")
    _set(doc, path, ["defaults", "text", "model"], model)
    jsonedit.write_atomically(path, doc.text)
    print(f"default model set to {model} in {path}", file=out)
    return 0


def _set(doc: jsonedit.JsonText, path: Path, keys: list[str], value: object) -> None:
    try:
        doc.set(keys, value)
    except ValueError as e:  # e.g. `"text": "x"` where an object was expected
        raise UsageError(f"{path}: cannot set {'.'.join(keys)}: {e}") from None


def _read(path: Path) -> jsonedit.JsonText:
    try:
        return jsonedit.read(path)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: {e}") from None
