"""`GoogleOpenAiProvider`: Gemini through Google's OpenAI-compatible endpoint
(`{base_url}/v1beta/openai/chat/completions`, bearer key). It is the `openai` dialect with
Google's URL; the provider's `thinking_config` from llms.json rides in Google's `extra_body`
when the client did not set `reasoning_effort` (Gemini rejects both together)."""

from __future__ import annotations

import re
from typing import Any

from ..core.types import ProviderConfig
from .openai import OpenAiProvider

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
_VERSIONED = re.compile(r"/v\d+(alpha|beta)?\d*$")


def openai_chat_url(base_url: str) -> str:
    """…/openai → + /chat/completions; …/v1beta → + /openai/chat/completions; a bare host →
    + /v1beta/openai/chat/completions."""
    base = base_url.rstrip("/")
    if base.endswith("/openai"):
        return base + "/chat/completions"
    if not _VERSIONED.search(base):
        base += "/v1beta"
    return base + "/openai/chat/completions"


class GoogleOpenAiProvider(OpenAiProvider):
    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.url = openai_chat_url(config.base_url or DEFAULT_BASE_URL)
        self.embeddings_url = self.url.removesuffix("/chat/completions") + "/embeddings"
        self.thinking_config = config.extra.get("thinking_config")

    def with_defaults(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        body = super().with_defaults(request, alias)
        if self.thinking_config and "reasoning_effort" not in body and "extra_body" not in body:
            body["extra_body"] = {"google": {"thinking_config": self.thinking_config}}
        return body
