"""An upstream error's `code` and `param` reach the client unchanged (issue 10, item 9): an
OpenAI-compatible upstream's `context_length_exceeded` / `messages` arrive in the OpenAI
SDK's `e.code` / `e.param`, streamed or not; a native dialect maps its own equivalents
(Anthropic's error type as `code`, Gemini's status and blamed field)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import orjson
import pytest

from .. import fake_upstream as fu
from ..gateway_proc import GatewayProcess

MSG = [{"role": "user", "content": "hi"}]
TOO_LONG = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."


@pytest.fixture(scope="module")
def gateway(upstream: fu.FakeUpstream) -> Iterator[GatewayProcess]:
    def entry(type_: str, name: str) -> dict:
        return {"type": type_, "base_url": upstream.base_url(name), "api_key": "k", "models": {name: f"{name}-m"}}

    config = {
        "retries": 0,
        "breaker": False,
        "providers": {
            "oai": entry("OpenAiProvider", "oai"),
            "anth": entry("AnthropicProvider", "anth"),
            "goog": entry("GoogleProvider", "goog"),
        },
    }
    gw = GatewayProcess(config).start()
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0, timeout=20)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_openai_code_and_param_pass_through(client, upstream, stream):
    upstream.on(
        "oai",
        "*",
        fu.error(400, TOO_LONG, type="invalid_request_error", code="context_length_exceeded", param="messages"),
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="oai", messages=MSG, stream=stream)
    e = caught.value
    assert e.code == "context_length_exceeded"
    assert e.param == "messages"
    assert e.type == "invalid_request_error"
    assert e.body["message"] == TOO_LONG


def test_no_code_stays_null(client, upstream):
    upstream.on("oai", "*", fu.error(400, "bad", type="invalid_request_error"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="oai", messages=MSG)
    assert caught.value.code is None and caught.value.param is None


def test_anthropic_error_type_is_the_code(client, upstream):
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}}
    upstream.on("anth", "*", fu.error(400, raw=orjson.dumps(body)))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="anth", messages=MSG)
    assert caught.value.code == "invalid_request_error"
    assert caught.value.body["message"] == "prompt is too long"


def test_gemini_status_is_the_code_and_its_blamed_field_the_param(client, upstream):
    violation = {"field": "contents[0].parts", "description": "must not be empty"}
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}]
    body = {"error": {"code": 400, "message": "bad contents", "status": "INVALID_ARGUMENT", "details": details}}
    upstream.on("goog", "*", fu.error(400, raw=orjson.dumps(body)))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="goog", messages=MSG)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.param == "contents[0].parts"
