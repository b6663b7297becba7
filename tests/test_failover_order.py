"""Failover first, retry last — as a table of scenarios through the real gateway process on
real sockets: which provider is called, in which order, how many times, and how long the
answer took. Also the helpful 404 for a model whose every provider lacks its key, and an
upstream `Retry-After` that is not a finite number.

Every scenario has a model alias of its own (served by the providers it names, in that
order), so a `Retry-After` hold in one cannot leak into the next."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from . import fake_upstream as fu
from .fault import faults as f
from .gateway_proc import GatewayProcess

MSG = [{"role": "user", "content": "hi"}]
FIRST_BYTE = 2.0  # seconds; a hanging provider costs this much per attempt (three: 6 s or more)
SLACK = 2.0  # a loaded 2-core machine: start-up of the attempt, the client, the fake upstream


def ok() -> f.Handler:
    return f.echo()


@dataclass
class Scenario:
    id: str
    scripts: dict[str, list[Any]]  # provider (in llms.json order) → its answers, call by call
    calls: list[str]  # the providers the upstream saw, in order
    status: int = 200
    stream: bool = False
    within: float = SLACK  # the answer came within this many seconds
    at_least: float = 0.0  # … and not before this (it waited as told)
    headers: dict[str, str] = field(default_factory=dict)


S = Scenario
SCENARIOS = [
    S("500-fails-over-at-once", {"primary": [f.status(500)], "secondary": [ok()]}, ["primary", "secondary"]),
    # a hanging first provider costs one first_byte, not three
    S("hang-fails-over-at-once", {"primary": [fu.hang(30)], "secondary": [ok()]}, ["primary", "secondary"],
      within=FIRST_BYTE + SLACK),
    S("hang-fails-over-at-once-stream", {"primary": [fu.hang(30)], "secondary": [ok()]}, ["primary", "secondary"],
      stream=True, within=FIRST_BYTE + SLACK),
    S("silent-stream-fails-over-at-once", {"primary": [f.silent_after(0)], "secondary": [ok()]},
      ["primary", "secondary"], stream=True, within=FIRST_BYTE + SLACK),
    # every candidate failed once: a second lap, in llms.json order
    S("second-lap", {"primary": [f.status(503), ok()], "secondary": [f.status(503)]},
      ["primary", "secondary", "primary"]),
    S("second-lap-stream", {"primary": [f.status(503), ok()], "secondary": [f.status(502)]},
      ["primary", "secondary", "primary"], stream=True),
    S("third-lap", {"primary": [f.status(503), f.status(503), ok()], "secondary": [f.status(503)]},
      ["primary", "secondary", "primary", "secondary", "primary"]),
    S("all-laps-fail", {"primary": [f.status(500)], "secondary": [f.status(503)]},
      ["primary", "secondary"] * 3, status=502),
    S("three-candidates", {"primary": [f.status(500)], "secondary": [fu.reset()], "tertiary": [ok()]},
      ["primary", "secondary", "tertiary"]),
    # a single candidate behaves as a retry always did
    S("solo-503-once", {"primary": [f.status(503), ok()]}, ["primary", "primary"]),
    S("solo-retry-after", {"primary": [f.status(429, retry_after="1"), ok()]}, ["primary", "primary"],
      at_least=1.0, within=1.0 + SLACK),
    S("solo-hang-is-retried", {"primary": [fu.hang(30), ok()]}, ["primary", "primary"],
      within=FIRST_BYTE + SLACK),
    # a Retry-After longer than max_wait (3 s here) drops that lane from later laps
    S("long-retry-after-drops-the-lane",
      {"primary": [f.status(429, retry_after="10")], "secondary": [f.status(503), ok()]},
      ["primary", "secondary", "secondary"]),
    # a timed-out provider goes last in a later lap: the others are tried before it again
    S("timeout-not-repeated-first", {"primary": [fu.hang(30)], "secondary": [f.status(503), ok()]},
      ["primary", "secondary", "secondary"], within=FIRST_BYTE + SLACK),
    # the same answer again would not help: a bad key, a missing model, a malformed body
    # (a 401 disables its provider for good: one of its own)
    S("401-not-repeated", {"badkey": [f.status(401)], "secondary": [f.status(503), ok()]},
      ["badkey", "secondary", "secondary"]),
    S("malformed-not-repeated", {"primary": [f.malformed_json()], "secondary": [f.status(503)]},
      ["primary", "secondary", "secondary", "secondary"], status=502),
    S("client-error-stops", {"primary": [f.status(400)], "secondary": [ok()]}, ["primary"], status=400),
    # "retries": {"first": true}: the same provider first, as before
    S("first-retries-the-same-provider", {"sticky": [f.status(503), ok()], "secondary": [ok()]},
      ["sticky", "sticky"]),
    S("first-then-fails-over", {"sticky": [f.status(503)], "secondary": [ok()]},
      ["sticky", "sticky", "sticky", "secondary"]),
    S("first-retry-after", {"sticky": [f.status(429, retry_after="1"), ok()], "secondary": [ok()]},
      ["sticky", "sticky"], at_least=1.0, within=1.0 + SLACK),
    S("first-hang-not-repeated", {"sticky": [fu.hang(30)], "secondary": [ok()]}, ["sticky", "secondary"],
      within=FIRST_BYTE + SLACK),
    # no lap starts that the request's budget cannot hold: 502 at once, not a wait
    S("laps-inside-the-budget",
      {"primary": [f.status(503, retry_after="2")], "secondary": [f.status(503, retry_after="2")]},
      ["primary", "secondary"], status=502, headers={"x-llms-timeout": "1.5"}, within=1.0),
    # an endless hold must be capped, never a 500 (see also test_retry_after_inf_*)
    S("retry-after-inf", {"primary": [f.status(429, retry_after="inf")], "secondary": [ok()]},
      ["primary", "secondary"]),
]
PROVIDERS = ("sticky", "badkey", "primary", "secondary", "tertiary")  # llms.json order
KEYLESS = {"groq": "LLMS_TEST_GROQ_KEY", "openrouter": "LLMS_TEST_OPENROUTER_KEY"}


def order_config(upstream: fu.FakeUpstream) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    for name in PROVIDERS:
        models = {s.id: s.id for s in SCENARIOS if name in s.scripts}
        models.update({m: m for m, served in EXTRA_MODELS.items() if name in served})
        providers[name] = {
            "type": "OpenAiProvider",
            "base_url": upstream.base_url(name),
            "api_key": f"sk-{name}",
            "models": models,
        }
    providers["sticky"]["retries"] = {"first": True}
    for name, env in KEYLESS.items():  # as in the docs' example, with no key set
        providers[name] = {
            "type": "OpenAiProvider",
            "base_url": upstream.base_url(name),
            "api_key": f"${env}",
            "models": {"kimi-k2": "kimi", "half-keyed": "half"},
        }
    providers["primary"]["models"]["half-keyed"] = "half"
    return {
        "timeouts": {"connect": 1, "first_byte": FIRST_BYTE, "idle": 1, "total": 10},
        "retries": {"max": 2, "base_delay": 0.1, "max_delay": 0.2, "max_wait": 3},
        # breakers on (Retry-After holds are theirs) but slow to open: one scenario's
        # failures must not decide another's
        "breaker": {"failures": 100, "min_requests": 1000},
        "budget": 30,
        "providers": providers,
    }


# aliases outside the scenario table → the providers (of PROVIDERS) that serve them
EXTRA_MODELS = {"ra-inf-solo": ("primary",), "ra-huge": ("primary", "secondary")}


@pytest.fixture(scope="module")
def order_gateway(upstream: fu.FakeUpstream):
    gw = GatewayProcess(order_config(upstream), env={env: "" for env in KEYLESS.values()}, args=["--verbose"])
    gw.start()
    yield gw
    gw.stop()


def post(gw: GatewayProcess, model: str, *, stream: bool = False, **kw: Any) -> httpx.Response:
    body = {"model": model, "messages": MSG, "stream": stream}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=30, **kw)


@pytest.mark.parametrize("s", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_failover_order(order_gateway, upstream, s: Scenario):
    for provider, answers in s.scripts.items():
        upstream.on(provider, s.id, f.series(*answers))
    start = time.monotonic()
    r = post(order_gateway, s.id, stream=s.stream, headers=s.headers)
    took = time.monotonic() - start
    assert r.status_code == s.status, r.text
    calls = [c.provider for c in upstream.received() if c.model == s.id]
    assert calls == s.calls
    if s.status == 200:
        assert r.headers["x-llms-provider"] == s.calls[-1]
        assert r.headers.get("x-llms-tried", s.calls[0]) == ",".join(s.calls)  # the real order
        if s.stream:
            assert r.text.rstrip().endswith("data: [DONE]")
        else:
            assert r.json()["choices"][0]["message"]["content"] == f.expected("hi")
    else:
        assert r.json()["error"]["message"]
    assert s.at_least <= took < s.within, f"took {took:.2f}s"


def test_keyless_model_names_the_variables(order_gateway):
    r = post(order_gateway, "kimi-k2")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "model_not_found" and err["param"] == "model" and err["type"] == "invalid_request_error"
    assert err["message"] == (
        "'kimi-k2' is served by groq, openrouter, which are skipped: "
        "set LLMS_TEST_GROQ_KEY or LLMS_TEST_OPENROUTER_KEY"
    )
    # a model with one keyed provider is served; an unknown one gets the plain 404
    assert post(order_gateway, "half-keyed").status_code == 200
    unknown = post(order_gateway, "no-such-model")
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]["message"]


def test_retry_after_inf_is_ignored_not_a_500(order_gateway, upstream):
    upstream.on("primary", "ra-inf-solo", f.status(429, retry_after="inf"))
    for _ in range(2):  # never a 500, and no endless hold: the second request asks again
        r = post(order_gateway, "ra-inf-solo")
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "rate_limit_exceeded" and r.headers["retry-after"] == "1"
    assert len(upstream.received("primary")) == 6  # 3 laps (retries.max 2) per request


def test_huge_retry_after_holds_at_most_an_hour(order_gateway, upstream):
    upstream.on("primary", "ra-huge", f.status(503, retry_after="99999999"))
    r = post(order_gateway, "ra-huge")
    assert r.status_code == 200 and r.headers["x-llms-provider"] == "secondary"
    status = httpx.get(order_gateway.url + "/status", timeout=5).json()
    primary = next(p for p in status["providers"] if p["name"] == "primary")
    held = primary["model_breakers"]["ra-huge"]
    assert held["state"] == "open" and 3500 < held["retry_in"] <= 3600
