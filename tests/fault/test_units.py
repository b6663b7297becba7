"""The pieces on their own: the retry policy, the breaker's state machine, the reliability
keys of `llms.json` (path-named errors, defaults, per-provider overrides)."""

from __future__ import annotations

import dataclasses

import pytest

from llms.config import ConfigError, parse_config
from llms.config.reliability import BREAKER_KEYS, RETRY_KEYS
from llms.core.errors import (
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from llms.router import BreakerPolicy, RetryPolicy
from llms.router.breaker import CLOSED, DISABLED, HALF_OPEN, OPEN, Breaker


def status_error(code: int, retry_after: float | None = None) -> UpstreamStatusError:
    return UpstreamStatusError("x", provider="p", upstream_status=code, retry_after=retry_after)


@pytest.mark.parametrize(
    ("error", "repeat"),
    [
        (UpstreamConnectionError("reset", provider="p"), True),
        (UpstreamTimeout("slow", provider="p"), True),
        (status_error(429), True),
        (status_error(408), True),
        (status_error(409), True),
        (status_error(500), True),
        (status_error(529), True),  # Anthropic overloaded
        (status_error(401), False),  # fails over, but the same key will not work a second time
        (status_error(403), False),
        (status_error(404), False),
        (status_error(400), False),
        (UpstreamProtocolError("bad json", provider="p"), False),
    ],
)
def test_which_failures_are_retried_at_the_same_provider(error, repeat):
    assert (RetryPolicy(max=3).delay(error, 0) is not None) is repeat


def test_backoff_grows_with_jitter_and_stops_at_max():
    policy = RetryPolicy(max=3, base_delay=1.0, max_delay=3.0)
    e = status_error(503)
    for n, step in enumerate([1.0, 2.0, 3.0]):
        delays = {policy.delay(e, n) for _ in range(50)}
        assert all(step / 2 <= d <= step for d in delays) and len(delays) > 1
    assert policy.delay(e, 3) is None


def test_retry_after_is_used_when_short_enough():
    policy = RetryPolicy(max=2, max_wait=5)
    assert policy.delay(status_error(429, retry_after=3.0), 0) == 3.0
    assert policy.delay(status_error(429, retry_after=30.0), 0) is None  # fail over instead


def test_breaker_opens_on_consecutive_failures_then_probes_once(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("llms.router.breaker.time.monotonic", lambda: now[0])
    b = Breaker("p/m", BreakerPolicy(failures=3, cooldown=10, max_cooldown=40))
    for _ in range(2):
        assert b.allow()
        b.failure("HTTP 503")
    b.success()  # a success resets the run
    for _ in range(3):
        assert b.allow()
        b.failure("HTTP 503")
    assert b.state == OPEN and not b.allow() and b.wait() == 10
    now[0] += 10
    assert b.allow() and b.state == HALF_OPEN  # this caller is the probe
    assert not b.allow()  # everyone else still skips
    b.failure("HTTP 503")
    assert b.state == OPEN and b.wait() == 20  # a failed probe doubles the cooldown
    now[0] += 20
    assert b.allow()
    b.release()  # the probe was cancelled: no verdict, the next caller probes
    assert b.allow()
    b.success()
    assert b.state == CLOSED and b.allow()


def test_breaker_opens_on_error_rate(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("llms.router.breaker.time.monotonic", lambda: now[0])
    b = Breaker("p/m", BreakerPolicy(failures=100, error_rate=0.5, min_requests=10, window=60))
    for i in range(10):
        if i % 2:
            b.failure("HTTP 500")
        else:
            b.success()
    assert b.state == OPEN


def test_hold_and_disable():
    b = Breaker("p/m", BreakerPolicy())
    b.hold(5, "HTTP 429", limited=True)
    assert b.state == OPEN and b.limited and 4 < (b.wait() or 0) <= 5
    b.disable("HTTP 401 invalid key")
    assert b.state == DISABLED and not b.allow() and "until the config changes" in b.refusal()


def test_policy_fields_match_the_config_keys():
    assert set(RETRY_KEYS) == {f.name for f in dataclasses.fields(RetryPolicy)}
    assert set(BREAKER_KEYS) == {f.name for f in dataclasses.fields(BreakerPolicy)}


def parse(extra: dict, provider_extra: dict | None = None):
    data = {
        **extra,
        "providers": {"p": {"type": "OpenAiProvider", "models": {"m": "m"}, **(provider_extra or {})}},
    }
    return parse_config(data, "llms.json", env={})


def test_reliability_defaults_and_overrides():
    c = parse({"retries": 1, "breaker": {"cooldown": 5}, "concurrency": 4, "budget": 90}, {"retries": {"max": 0}})
    r = c.reliability
    assert r.default.retries == {"max": 1} and r.default.breaker == {"cooldown": 5} and r.default.concurrency == 4
    assert r.providers["p"].retries == {"max": 0} and r.providers["p"].breaker == {"cooldown": 5}
    assert r.budget == 90 and r.shutdown_grace == 30 and r.keepalive == 15
    assert "retries" not in c.providers["p"].extra  # ours, not a dialect key
    assert parse({"breaker": False}).reliability.default.breaker == {"enabled": False}


@pytest.mark.parametrize(
    ("extra", "provider_extra", "where", "reason"),
    [
        ({"retries": {"max": -1}}, None, "retries.max", "whole number of at least 0"),
        ({"retries": {"tries": 2}}, None, "retries.tries", "unknown key"),
        ({"breaker": {"error_rate": 2}}, None, "breaker.error_rate", "at most 1"),
        ({"breaker": {"failures": 0}}, None, "breaker.failures", "at least 1"),
        ({"breaker": "yes"}, None, "breaker", "expected an object"),
        ({"budget": 0}, None, "budget", "above 0"),
        ({"shutdown": {"grace": "soon"}}, None, "shutdown.grace", "expected a number"),
        ({"streaming": {"write_timeout": 0}}, None, "streaming.write_timeout", "above 0"),
        ({}, {"concurrency": 1.5}, "providers.p.concurrency", "whole number"),
        ({}, {"breaker": {"cooldown": -1}}, "providers.p.breaker.cooldown", "above 0"),
    ],
)
def test_reliability_errors_name_the_path(extra, provider_extra, where, reason):
    with pytest.raises(ConfigError) as info:
        parse(extra, provider_extra)
    assert info.value.where == where and reason in info.value.reason
