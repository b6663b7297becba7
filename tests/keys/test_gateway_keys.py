"""Client keys through the real gateway (`llms --serve` subprocess) and the real OpenAI SDK:
each refusal raises the SDK's matching exception, every answer carries OpenAI's rate-limit
headers, the ledger records the key's name, a key sees only its models, exact admission under
200 concurrent requests, a stream that runs past the budget is settled on its real cost, and
the database never holds a key in clear."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import openai
import pytest

from ..fake_upstream import FakeUpstream, error, stream
from ..gateway_proc import GatewayProcess
from .gateway_keys import ADMIN_KEY, ENV, admin, create_key, keys_config
from .test_cli import llms


@pytest.fixture(scope="module")
def gw(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    g = GatewayProcess(keys_config(upstream), env=ENV).start()
    yield g
    g.stop()


def sdk(gw: GatewayProcess, key: str | None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key or "none", max_retries=0, timeout=20)


def ask(client: openai.OpenAI, model: str = "chat") -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def test_missing_or_wrong_key_is_401(gw: GatewayProcess):
    for key in (None, "sk-llms-00000000_nope", "sk-something-else"):
        with pytest.raises(openai.AuthenticationError) as e:
            ask(sdk(gw, key))
        assert e.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        sdk(gw, None).models.list()


def test_banner_says_keys_are_required(gw: GatewayProcess):
    assert "auth: client keys required" in gw.output()


def test_key_sees_and_uses_only_its_models(gw: GatewayProcess):
    key = create_key(gw.url, "two-models", models=["chat", "shared"])
    client = sdk(gw, key)
    assert sorted(m.id for m in client.models.list()) == ["chat", "shared"]
    assert client.models.retrieve("shared").id == "shared"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("primary-only")
    r = httpx.get(gw.url + "/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert sorted(m["id"] for m in r.json()) == ["chat", "shared"]
    assert ask(client, "shared").choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError) as e:
        ask(client, "primary-only")
    assert e.value.code == "model_not_allowed"


def test_rate_limit_headers_and_429(gw: GatewayProcess):
    key = create_key(gw.url, "rpm-three", rpm=3, tpm=100_000)
    client = sdk(gw, key)
    while 60 - time.time() % 60 < 5:  # not across a minute boundary
        time.sleep(0.5)
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "x"}])
    assert raw.headers["x-ratelimit-limit-requests"] == "3"
    assert raw.headers["x-ratelimit-remaining-requests"] == "2"
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    assert raw.headers["x-ratelimit-limit-tokens"] == "100000"
    assert raw.headers["x-ratelimit-remaining-tokens"] == "100000"
    body = {"model": "chat", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=20,
                      headers={"Authorization": f"Bearer {key}"}) as streamed:  # fmt: skip
        assert streamed.headers["x-ratelimit-remaining-requests"] == "1"
        streamed.read()
    assert ask(client).choices  # the third of three
    with pytest.raises(openai.RateLimitError) as e:
        ask(client)
    assert e.value.code == "rate_limit_exceeded"
    headers = e.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"


def test_ratelimit_headers_on_errors_too(gw: GatewayProcess, upstream: FakeUpstream):
    upstream.on("primary", "p-only", error(400, "bad request", type="invalid_request_error"))
    key = create_key(gw.url, "errors-too", rpm=100)
    with pytest.raises(openai.BadRequestError) as e:
        ask(sdk(gw, key), "primary-only")
    assert e.value.response.headers["x-ratelimit-limit-requests"] == "100"


def test_budget_spent_is_insufficient_quota_settled_on_real_cost(gw: GatewayProcess, upstream: FakeUpstream):
    # default_pricing: $0.000001 in, $0.000002 out per token. The stream reports 1,000,000
    # completion tokens ($2.000005): far past the $1 budget the estimate ($0.002…) left room for.
    upstream.on("primary", "p-chat", stream(["a", "b", "c"], usage={
        "prompt_tokens": 5, "completion_tokens": 1_000_000, "total_tokens": 1_000_005}))  # fmt: skip
    key = create_key(gw.url, "budget-one", budget=1, period="day")
    client = sdk(gw, key)
    pieces = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices) == "abc"
    deadline = time.monotonic() + 10
    while True:  # settling runs when the request's record is handed off, just after the stream
        try:
            ask(client)
        except openai.RateLimitError as e:
            assert e.code == "insufficient_quota"
            break
        assert time.monotonic() < deadline, "the real cost was never settled"
        time.sleep(0.1)
    deadline = time.monotonic() + 10
    while True:  # the ledger's writer stores the record within its interval
        status, listed = admin(gw.url, "GET", "/admin/keys")
        spend = {k["name"]: k["spend"] for k in listed["data"]}
        if spend["budget-one"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert spend["budget-one"] == pytest.approx(2.000005, rel=1e-6)


def test_ledger_records_the_key_name_admin_only(gw: GatewayProcess):
    key = create_key(gw.url, "ledgered")
    ask(sdk(gw, key))
    status, _ = admin(gw.url, "GET", "/usage/summary?group_by=key", key=key)
    assert status == 401
    deadline = time.monotonic() + 10
    while True:
        status, body = admin(gw.url, "GET", "/usage/summary?group_by=key")
        assert status == 200
        if "ledgered" in {row["group"] for row in body["data"]}:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status, public = admin(gw.url, "GET", "/status", key=None)
    assert status == 200 and "providers" not in public and key not in str(public)
    status, full = admin(gw.url, "GET", "/status")
    assert "providers" in full and full["keys"]["limits"] == {"backend": "local"}


async def test_exact_admission_under_concurrency(gw: GatewayProcess):
    key = create_key(gw.url, "fifty", rpm=50)
    while 60 - time.time() % 60 < 15:
        await asyncio.sleep(0.5)
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:

        async def one() -> int:
            async with session.post(gw.url + "/v1/chat/completions", json=body, headers=headers) as r:
                await r.read()
                return r.status

        statuses = await asyncio.gather(*(one() for _ in range(200)))
    assert statuses.count(200) == 50 and statuses.count(429) == 150


def test_cli_and_database_never_hold_a_key_in_clear(gw: GatewayProcess):
    out = llms("--config", str(gw.config_path), "keys", "create", "--name", "from-cli", "--rpm", "5",
               home=gw.home).stdout  # fmt: skip
    key = out.strip().splitlines()[-1]
    deadline = time.monotonic() + 5  # the server polls the key table twice a second
    while True:
        try:
            ask(sdk(gw, key))
            break
        except openai.AuthenticationError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    llms("--config", str(gw.config_path), "keys", "revoke", "from-cli", home=gw.home)
    deadline = time.monotonic() + 1.5
    while True:
        try:
            ask(sdk(gw, key))
        except openai.AuthenticationError:
            break
        assert time.monotonic() < deadline, "the revocation took more than a second"
        time.sleep(0.05)
    secret = key.split("_", 1)[1].encode()
    stored = b"".join(p.read_bytes() for p in Path(gw.home).glob("usage.db*"))
    assert stored and secret not in stored and key.encode() not in stored
    assert key not in gw.output() and ADMIN_KEY not in gw.output()


def test_the_sibling_apis_take_the_same_keys(gw: GatewayProcess):
    """Messages (Anthropic's SDK sends `x-api-key`), Responses and embeddings go through the same
    guard: the key's identity, its models, its limits."""
    import anthropic

    key = create_key(gw.url, "siblings", models=["chat"], rpm=100)
    claude = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=20)
    got = claude.messages.create(model="chat", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert got.content[0].text  # type: ignore[union-attr]
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=gw.url, api_key="sk-llms-00000000_x", max_retries=0).messages.create(
            model="chat", max_tokens=20, messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    with pytest.raises(anthropic.PermissionDeniedError):
        claude.messages.create(model="shared", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    raw = sdk(gw, key).responses.with_raw_response.create(model="chat", input="hi")
    assert raw.headers["x-ratelimit-limit-requests"] == "100"
    with pytest.raises(openai.AuthenticationError):
        sdk(gw, None).responses.create(model="chat", input="hi")
