"""Shared fixtures: one fake upstream per session, and a gateway subprocess whose two
providers (`primary`, `secondary`) both point at it, so failover order can be scripted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_upstream import FakeUpstream
from .gateway_proc import GatewayProcess


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _clean_upstream(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "upstream" in request.fixturenames:
        request.getfixturevalue("upstream").reset()


def two_provider_config(upstream: FakeUpstream, **provider_extra: object) -> dict:
    """`primary` then `secondary`, both serving `chat` (as `p-chat` / `s-chat`) and `shared`;
    `only-secondary` is served by the second alone; `bad-key-provider` has an unset key."""
    return {
        "defaults": {"headers": {"Content-Type": "application/json", "X-Default": "d"}},
        "limits": {"client_max_size": 1024 * 1024},
        "timeouts": {"connect": 2, "first_byte": 3, "idle": 2, "total": 8},
        # These tests share one gateway and script one failure at a time: keep issue 2's
        # "each provider once, in order" (tests/fault/ covers retries and breakers).
        "retries": 0,
        "breaker": False,
        "providers": {
            "primary": {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url("primary"),
                "api_key": "sk-primary-secret",
                "models": {"chat": "p-chat", "shared": "shared", "primary-only": "p-only"},
                "default_pricing": {"input": "0.000001", "output": "0.000002"},
                "headers": {"X-Provider": "primary"},
                "temperature": 0.25,
                **provider_extra,
            },
            "nokey": {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url("nokey"),
                "api_key": "$LLMS_TEST_UNSET_KEY",
                "models": {"chat": "n-chat"},
            },
            "secondary": {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url("secondary") + "/v1",
                "api_key": "$LLMS_TEST_SECONDARY_KEY",
                "models": {"chat": "s-chat", "shared": "shared", "only-secondary": "s-only"},
            },
            "off": {
                "enabled": False,
                "type": "OpenAiProvider",
                "base_url": upstream.base_url("off"),
                "models": {"chat": "o-chat", "off-only": "o-only"},
            },
        },
    }


@pytest.fixture(scope="session")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(
        two_provider_config(upstream),
        env={"LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret", "LLMS_TEST_UNSET_KEY": ""},
        args=["--verbose"],
    ).start()
    yield gw
    gw.stop()
