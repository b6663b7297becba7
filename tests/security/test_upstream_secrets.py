"""Secrets never leave through the upstream's words (issue 10, item 5): an upstream that
echoes the credentials it received — in an error body, a plain-text answer, an error event
inside a stream — reaches the client, `/status` and the log with every configured secret
(api keys, credential headers, Gemini's `?key=`) scrubbed. And redirects are never followed:
the target of a 3xx gets nothing, the redirecting provider counts as failed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import httpx
import pytest

from llms.transport import Scrubber

from .. import fake_upstream as fu
from ..gateway_proc import GatewayProcess

MSG = [{"role": "user", "content": "hi"}]
SECRETS = {
    "SEC_OAI": "sk-oai-SECRET-0123456789",
    "SEC_AZURE": "azure-SECRET-0123456789",
    "anth": "sk-ant-SECRET-0123456789",
    "goog": "AIza-goog-SECRET-0123456789",
    "googq": "AIza-query-SECRET+/0123456789",  # URL-encoded in `?key=`, echoed encoded
    "oll": "ollama-SECRET-0123456789",
}
DIALECTS = ["oai", "anth", "goog", "googq", "oll"]


@pytest.fixture(scope="module")
def target() -> Iterator[fu.FakeUpstream]:
    """Where the redirects point: it must never hear from the gateway."""
    other = fu.FakeUpstream().start()
    yield other
    other.stop()


@pytest.fixture(scope="module")
def gateway(upstream: fu.FakeUpstream) -> Iterator[GatewayProcess]:
    def entry(type_: str, name: str, **extra: object) -> dict:
        return {"type": type_, "base_url": upstream.base_url(name), "models": {name: f"{name}-m"}, **extra}

    providers = {
        "oai": entry("OpenAiProvider", "oai", api_key="$SEC_OAI", headers={"api-key": "$SEC_AZURE"}),
        "anth": entry("AnthropicProvider", "anth", api_key=SECRETS["anth"]),
        "goog": entry("GoogleProvider", "goog", api_key=SECRETS["goog"]),
        "googq": entry("GoogleProvider", "googq", api_key=SECRETS["googq"], key_in_query=True),
        "oll": entry("OllamaProvider", "oll", api_key=SECRETS["oll"]),
        "redir": entry("OpenAiProvider", "redir", api_key=SECRETS["SEC_OAI"], models={"redir": "r", "hop": "r"}),
        "ok": entry("OpenAiProvider", "ok", models={"hop": "ok-m"}),
    }
    config = {
        "retries": 0,
        "breaker": {"failures": 1000, "min_requests": 1000},  # keep every provider in play; /status keeps the reason
        "timeouts": {"connect": 2, "first_byte": 5, "idle": 5, "total": 20},
        "providers": providers,
    }
    env = {k: v for k, v in SECRETS.items() if k.startswith("SEC_")}
    gw = GatewayProcess(config, env=env, args=["--verbose"]).start()
    yield gw
    gw.stop()


def assert_clean(text: str) -> None:
    for name, secret in SECRETS.items():
        for form in (secret, quote(secret, safe=""), quote_plus(secret)):
            assert form not in text, f"{name} leaked: {text[:500]}"


def post(gateway: GatewayProcess, model: str, *, stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": MSG, "stream": stream}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_an_error_echoing_credentials_is_scrubbed(gateway, upstream, dialect, stream):
    upstream.on(dialect, "*", fu.echo_credentials(500))
    r = post(gateway, dialect, stream=stream)
    assert r.status_code == 502, r.text
    assert "[redacted]" in r.text  # the upstream did echo, and the gateway scrubbed it
    assert_clean(r.text)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_client_error_echoing_credentials_is_scrubbed_in_message_code_and_param(gateway, upstream, dialect):
    upstream.on(dialect, "*", fu.echo_credentials(400))
    r = post(gateway, dialect)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert "[redacted]" in err["message"]
    assert_clean(r.text)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("status", [200, 503])
def test_a_plain_text_answer_echoing_credentials_is_scrubbed(gateway, upstream, dialect, status):
    upstream.on(dialect, "*", fu.echo_credentials(status, as_text=True))
    r = post(gateway, dialect)
    assert r.status_code == 502, r.text
    assert "[redacted]" in r.text
    assert_clean(r.text)


@pytest.mark.parametrize("dialect", ["oai", "anth"])
def test_an_error_event_in_a_stream_echoing_credentials_is_scrubbed(gateway, upstream, dialect):
    upstream.on(dialect, "*", fu.echo_credentials(200, in_stream=True))
    r = post(gateway, dialect, stream=True)
    assert "[redacted]" in r.text, r.text
    assert_clean(r.text)


def test_status_and_log_hold_no_secret(gateway, upstream):
    for dialect in DIALECTS:
        upstream.on(dialect, "*", fu.echo_credentials(500))
        post(gateway, dialect)
    status = httpx.get(gateway.url + "/status", timeout=10).text
    assert "[redacted]" in status  # breaker.last_failure keeps the (scrubbed) upstream words
    assert_clean(status)
    assert_clean(gateway.output())


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_fails_over(gateway, upstream, target, code):
    upstream.on("redir", "*", fu.redirect(target.base_url("stolen") + "/v1/chat/completions", code))
    r = post(gateway, "hop")
    assert r.status_code == 200, r.text
    assert r.headers["x-llms-tried"] == "redir,ok"
    assert target.received() == []


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_a_redirect_is_a_provider_failure_naming_the_status(gateway, upstream, target, stream):
    upstream.on("redir", "*", fu.redirect(target.base_url("stolen") + "/v1/chat/completions", 307))
    r = post(gateway, "redir", stream=stream)
    assert r.status_code == 502, r.text
    assert "HTTP 307" in r.json()["error"]["message"]
    assert target.received() == []


def test_scrubber_covers_the_forms_a_secret_comes_back_in():
    basic = "Basic " + base64.b64encode(b"user:hunter2-password").decode()
    s = Scrubber.for_provider("sk-live-0123456789", {"Authorization": basic, "X-Trace": "trace-0123456789"}, None)
    text = s.text(f"{basic}|user:hunter2-password|Bearer sk-live-0123456789|sk-live-0123456789")
    assert text == "[redacted]|[redacted]|Bearer [redacted]|[redacted]"
    assert s.text("trace-0123456789") == "trace-0123456789"  # not a credential header


def test_scrubber_leaves_dummy_keys_of_local_servers_alone():
    s = Scrubber.for_provider("none", {"Authorization": "Bearer none"}, None)
    assert s.text("model none is loading") == "model none is loading"


def test_scrubber_takes_key_parameters_and_passwords_of_the_base_url():
    s = Scrubber.for_provider(None, {}, "https://user:pa55word-0123@example.com/v1?api-key=azure-0123456789&v=2")
    assert s.text("got pa55word-0123 and azure-0123456789, v=2") == "got [redacted] and [redacted], v=2"
