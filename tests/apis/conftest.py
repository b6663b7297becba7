"""One real gateway for the API suites: `primary` and `secondary` (OpenAI-compatible, on the
fake upstream) both serve `gpt` and `emb`, so failover can be scripted; `anthropic` is the
Anthropic dialect on the same fake upstream (scripted with recorded transcripts), serving
`claude` alone and `mixed` ahead of `primary` (native first, translated on failover)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts" / "anthropic"
MODELS = {"gpt": "up-gpt", "emb": "text-embedding-3-small", "agent": "up-agent", "mixed": "up-mixed"}


def api_config(upstream: FakeUpstream) -> dict:
    return {
        "timeouts": {"connect": 2, "first_byte": 3, "idle": 2, "total": 8},
        "retries": 0,
        "breaker": False,
        "providers": {
            "anthropic": {
                "type": "AnthropicProvider",
                "base_url": upstream.base_url("anthropic"),
                "api_key": "sk-ant-test",
                "models": {"claude": "claude-up", "claude-count": "claude-count", "mixed": "claude-mixed"},
            },
            "primary": {"type": "OpenAiProvider", "base_url": upstream.base_url("primary"), "models": MODELS},
            "secondary": {"type": "OpenAiProvider", "base_url": upstream.base_url("secondary"), "models": MODELS},
        },
    }


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(api_config(upstream), env={"LLMS_DATABASE_URL": ""}).start()
    yield gw
    gw.stop()


def transcript(name: str) -> bytes:
    return (TRANSCRIPTS / name).read_bytes()
