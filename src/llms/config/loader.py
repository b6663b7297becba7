"""Finding and reading `llms.json`: the home folder (`LLMS_HOME`, else `~/.llms`), the
packaged default, `llms --init`. The server only ever reads the user's file."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from .schema import Config, ConfigError, parse_config

PACKAGED = "packaged default llms.json"


def home_dir(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("LLMS_HOME"):
        return Path(env["LLMS_HOME"]).expanduser()
    return Path.home() / ".llms"


def default_config_text() -> str:
    return resources.files("llms.data").joinpath("llms.json").read_text(encoding="utf-8")


def load_text(text: str, source: str) -> Config:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(source, f"line {e.lineno}, column {e.colno}", f"invalid JSON: {e.msg}") from None
    return parse_config(data, source)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the given file, else `<home>/llms.json`, else the packaged default."""
    if path is None:
        candidate = home_dir() / "llms.json"
        if not candidate.exists():
            return load_text(default_config_text(), PACKAGED)
        path = candidate
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(p), "", f"cannot read: {e}") from None
    return load_text(text, str(p))


def init_home() -> tuple[Path, bool]:
    """Write the packaged default `llms.json` into the home folder unless one exists.
    Returns the path and whether it was written."""
    target = home_dir() / "llms.json"
    if target.exists():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(default_config_text(), encoding="utf-8")
    os.replace(tmp, target)  # never a half-written file
    return target, True
