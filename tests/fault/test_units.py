"""The pieces on their own: the retry policy, the order of attempts (laps), `Retry-After`
parsing, the breaker's state machine, the reliability keys of `llms.json` (path-named
errors, defaults, per-provider overrides)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

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
from llms.router.laps import Laps
from llms.transport import retry_after_seconds


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


def test_one_jitter_per_request_keeps_equal_policies_in_order():
    policy = RetryPolicy(max=3, base_delay=1.0)
    e = status_error(503)
    assert policy.delay(e, 1, 0.0) == 1.0 and policy.delay(e, 1, 1.0) == 2.0
    assert policy.delay(e, 1, 0.3) == policy.delay(e, 1, 0.3)


class FakeLane:
    """What `Laps` reads of a lane: its provider's retry policy."""

    def __init__(self, name: str, **retry) -> None:
        self.name = name
        self.state = SimpleNamespace(retry=RetryPolicy(base_delay=0, **retry))


lane = FakeLane


def run_laps(lanes: list, failures: dict[str, list]) -> list[str]:
    """Drive `Laps` as the router does: each lane fails with its next scripted error until
    its script ends (then it answers)."""
    laps, tried = Laps(lanes), []
    while (current := laps.next()) is not None:
        tried.append(current.name)
        script = failures.get(current.name, [])
        if not script:
            return tried
        laps.failed(current, script.pop(0))
    return tried


TIMEOUT = UpstreamTimeout("first byte", provider="p")


@pytest.mark.parametrize(
    ("lanes", "failures", "tried"),
    [
        # failover first: each candidate once, then another lap in order
        ("ab", {"a": [status_error(503)] * 3, "b": [status_error(503)] * 3}, "ababab"),
        ("abc", {"a": [status_error(500)], "b": [status_error(500)]}, "abc"),
        ("ab", {"a": [status_error(503)], "b": [status_error(503)]}, "aba"),
        # not worth repeating: a bad key, a protocol error
        ("ab", {"a": [status_error(401)], "b": [status_error(503)]}, "abb"),
        ("ab", {"a": [UpstreamProtocolError("bad", provider="a")], "b": [status_error(503)] * 5}, "abbb"),
        # a timed-out candidate goes after the others in later laps
        ("ab", {"a": [TIMEOUT] * 3, "b": [status_error(503)] * 2}, "abbab"),
        # a single candidate: plain retries
        ("a", {"a": [TIMEOUT, status_error(503)]}, "aaa"),
        # a Retry-After over max_wait drops the lane
        ("ab", {"a": [status_error(429, retry_after=60)], "b": [status_error(503)] * 2}, "abbb"),
    ],
)
async def test_laps_order(lanes, failures, tried):
    assert "".join(run_laps([lane(n) for n in lanes], failures)) == tried


async def test_first_retries_the_same_provider_before_the_next():
    sticky, other = lane("s", first=True), lane("o")
    e = status_error(503)
    assert run_laps([sticky, other], {"s": [e, e, e], "o": [e]}) == list("ssso" + "o")
    assert run_laps([sticky, other], {"s": [TIMEOUT, TIMEOUT], "o": [e]}) == list("soo")  # timeout: on at once
    assert run_laps([lane("s", first=True)], {"s": [TIMEOUT]}) == list("ss")  # alone: retried


async def test_later_laps_go_by_readiness():
    a, b = lane("a"), lane("b")
    laps = Laps([a, b])
    assert laps.next() is a and laps.start_at == 0
    laps.failed(a, status_error(429, retry_after=5))
    assert laps.next() is b
    laps.failed(b, status_error(503))
    assert laps.next() is b  # its backoff (0 here) is over before a's Retry-After
    laps.failed(b, status_error(503))
    nxt = laps.next()
    assert nxt is a and laps.start_at > 0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("1e400", None),
        ("99999999", 3600.0),
        ("soon", None),
        ("", None),
        (format_datetime(datetime.now(UTC) + timedelta(days=400), usegmt=True), 3600.0),
        (format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True), 0.0),
    ],
)
def test_retry_after_is_finite_and_at_most_an_hour(value, seconds):
    assert retry_after_seconds({"Retry-After": value}) == seconds


def test_breaker_hold_is_capped():
    b = Breaker("p/m", BreakerPolicy())
    b.hold(float("inf"), "HTTP 429", limited=True)
    assert b.state == OPEN and 3599 < (b.wait() or 0) <= 3600
    fresh = Breaker("p/m", BreakerPolicy())
    fresh.hold(float("nan"), "HTTP 429")
    assert fresh.state == CLOSED


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
    sticky = parse({"retries": 1}, {"retries": {"first": True}}).reliability.providers["p"]
    assert sticky.retries == {"max": 1, "first": True}


@pytest.mark.parametrize(
    ("extra", "provider_extra", "where", "reason"),
    [
        ({"retries": {"max": -1}}, None, "retries.max", "whole number of at least 0"),
        ({"retries": {"tries": 2}}, None, "retries.tries", "unknown key"),
        ({}, {"retries": {"first": "yes"}}, "providers.p.retries.first", "true or false"),
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
