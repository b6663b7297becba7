"""Provider registry: a `llms.json` type name → factory table. Built-in dialects register
here exactly as a plugin would (entry point group `llms.providers`); importing this module
imports no dialect — each is loaded when a config first names it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points

from ..core.types import ProviderConfig
from .base import Provider, ProviderConfigInvalid, ProviderUnavailable

Factory = Callable[[ProviderConfig], Provider]

BUILTIN: dict[str, str] = {
    "OpenAiProvider": "llms.providers.openai:OpenAiProvider",
    "AnthropicProvider": "llms.providers.anthropic:AnthropicProvider",
    "GoogleProvider": "llms.providers.google:GoogleProvider",
    "GoogleOpenAiProvider": "llms.providers.google_openai:GoogleOpenAiProvider",
    "OllamaProvider": "llms.providers.ollama:OllamaProvider",
    "LlamaCppProvider": "llms.providers.llamacpp:LlamaCppProvider",
    "MiniLmProvider": "llms.providers.minilm:MiniLmProvider",
}


def known_types() -> list[str]:
    return sorted({*BUILTIN, *(ep.name for ep in entry_points(group="llms.providers"))})


def factory_for(type_name: str) -> Factory | None:
    """The factory for a type name, or None when no dialect or plugin provides it."""
    target = BUILTIN.get(type_name)
    if target is None:
        for ep in entry_points(group="llms.providers"):
            if ep.name == type_name:
                return ep.load()  # type: ignore[no-any-return, unused-ignore]  # (Any without stubs)
        return None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return, unused-ignore]


__all__ = [
    "BUILTIN",
    "Factory",
    "Provider",
    "ProviderConfigInvalid",
    "ProviderUnavailable",
    "factory_for",
    "known_types",
]
