"""Fixtures of the dialect suites: one transcript upstream and one gateway process whose
providers speak every dialect to it. Model aliases are `<dialect>/<case>` → provider model
`<case>`, which names the transcript the upstream replays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from ..gateway_proc import GatewayProcess
from .transcript_upstream import DIALECTS, TranscriptUpstream

CASES = [
    "text",
    "multi_turn",
    "image",
    "tools",
    "tool_result",
    "length",
    "content_filter",
    "reasoning",
    "json_schema",
]
ERROR_CASES = ["invalid", "overloaded", "midstream_error", "truncated", "stream_error"]
ALL_CASES = CASES + ERROR_CASES
THINKING_CONFIG = {"thinkingBudget": 256, "includeThoughts": True}
SAFETY = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"}]


def aliases(dialect: str, prefix: str | None = None) -> dict[str, str]:
    models = {f"{prefix or dialect}/{case}": case for case in ALL_CASES}
    models[f"{prefix or dialect}/failover"] = "overloaded"
    models[f"{prefix or dialect}/failover-stream"] = "stream_error"
    return models


def conformance_config(up: TranscriptUpstream) -> dict[str, Any]:
    backup = {f"{d}/{alias}": "text" for d in DIALECTS for alias in ("failover", "failover-stream")}
    google = {"type": "GoogleProvider", "base_url": up.base_url("google"), "api_key": "$LLMS_TEST_GOOGLE_KEY"}
    return {
        "timeouts": {"connect": 2, "first_byte": 5, "idle": 5, "total": 15},
        "providers": {
            "openai": {
                "type": "OpenAiProvider",
                "base_url": up.base_url("openai"),
                "api_key": "sk-openai-test",
                "models": aliases("openai"),
            },
            "anthropic": {
                "type": "AnthropicProvider",
                "base_url": up.base_url("anthropic"),
                "api_key": "$LLMS_TEST_ANTHROPIC_KEY",
                "headers": {"anthropic-beta": "test-beta-2025-01-01"},
                "models": aliases("anthropic"),
            },
            "google": {
                **google,
                "models": aliases("google"),
                "safety_settings": SAFETY,
                "thinking_config": THINKING_CONFIG,
            },
            "ollama": {
                "type": "OllamaProvider",
                "base_url": up.base_url("ollama"),
                "all_models": True,
                "models": aliases("ollama"),
                "options": {"num_ctx": 8192},
            },
            # its own entry: a bad key disables the provider it belongs to
            "google_badkey": {**google, "models": {"google/badkey": "badkey"}},
            "backup": {
                "type": "OpenAiProvider",
                "base_url": up.base_url("openai"),
                "api_key": "sk-backup-test",
                "models": {**backup, "google/badkey": "text"},
            },
            "anthropic_defaults": {
                "type": "AnthropicProvider",
                "base_url": up.base_url("anthropic"),
                "api_key": "sk-ant-test",
                "temperature": 0.5,
                "top_k": 3,
                "max_tokens": 1000,
                "models": {"anthropic-defaults/text": "text"},
            },
            "google_query": {**google, "key_in_query": True, "models": {"google-query/text": "text"}},
            "google_fetch": {
                **google,
                "fetch_image_urls": {"allow_hosts": ["127.0.0.1"]},
                "models": {"google-fetch/image": "image"},
            },
            "google_openai": {
                "type": "GoogleOpenAiProvider",
                "base_url": up.base_url("openai") + "/v1beta",
                "api_key": "$LLMS_TEST_GOOGLE_KEY",
                "thinking_config": {"thinking_budget": 512, "include_thoughts": True},
                "models": {"google-openai/text": "text"},
            },
        },
    }


@pytest.fixture(scope="session")
def transcripts() -> Iterator[TranscriptUpstream]:
    up = TranscriptUpstream().start()
    yield up
    up.stop()


@pytest.fixture(scope="session")
def conformance_gateway(transcripts: TranscriptUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(
        conformance_config(transcripts),
        env={"LLMS_TEST_ANTHROPIC_KEY": "sk-ant-test", "LLMS_TEST_GOOGLE_KEY": "AIza-test"},
    ).start()
    yield gw
    gw.stop()


@pytest.fixture
def client(conformance_gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=conformance_gateway.url + "/v1", api_key="unused", max_retries=0, timeout=20)
