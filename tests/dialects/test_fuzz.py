"""Wrong-typed fields never crash a dialect's request mapping: a field the native dialects
translate, sent with the wrong shape, is a 400 naming it, and any JSON body gets a 2xx or a
4xx OpenAI envelope from the real gateway, which stays healthy and logs no traceback.

Two levels of property-based tests (hypothesis, derandomized and without an example database,
so every run tries the same examples): each dialect's mapping function with many generated
bodies, and a bounded run of generated bodies POSTed to a real gateway whose providers speak
every dialect to the transcript upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llms.core.errors import InvalidRequest
from llms.providers import anthropic, google, ollama
from llms.providers.checks import encode_request, request_mapping
from llms.providers.llamacpp import generation_args
from llms.server.openai_chat import check_chat

from ..gateway_proc import GatewayProcess
from .conftest import conformance_config
from .fuzz_bodies import bodies, wrong_one_in
from .transcript_upstream import TranscriptUpstream

MAPPINGS = {
    "anthropic": lambda req: anthropic.to_anthropic(req, stream=False),
    "google": lambda req: google.to_gemini(req, "google"),
    "ollama": lambda req: ollama.to_ollama(req, "ollama", stream=True, options={"num_ctx": 8}),
    "llamacpp": generation_args,
}
USER = {"role": "user", "content": "hi"}
# (fields over a valid request, the `param` the 400 must name)
WRONG_TYPES = [
    ({"tools": "abc"}, "tools"),
    ({"tools": [1]}, "tools[0]"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}, "tools[0].function.parameters"),
    ({"stop": 5}, "stop"),
    ({"stop": ["a", 5]}, "stop"),
    ({"messages": [USER, {"role": "assistant", "tool_calls": "x"}]}, "messages[1].tool_calls"),
    (
        {"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": "f"}]}]},
        "messages[0].tool_calls[0].function",
    ),
    (
        {"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": 5}}]}]},
        "messages[0].tool_calls[0].function.arguments",
    ),
    ({"messages": [{"role": "tool", "tool_call_id": ["a"], "content": "x"}]}, "messages[0].tool_call_id"),
    ({"response_format": "json"}, "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": "x"}}, "response_format.json_schema"),
    (
        {"messages": [USER, USER, {"role": "user", "content": [{"type": "text", "text": 5}]}]},
        "messages[2].content[0].text",
    ),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": ["hi"]}]}, "messages[0].content[0]"),
    (
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]},
        "messages[0].content[0].image_url",
    ),
    ({"messages": [{"role": "user", "content": [{"type": "file", "file": "x"}]}]}, "messages[0].content[0].file"),
    ({"max_tokens": "x"}, "max_tokens"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_k": 2.5}, "top_k"),
    ({"tool_choice": 3}, "tool_choice"),
    ({"tool_choice": {"type": "function", "function": "f"}}, "tool_choice"),
    ({"reasoning_effort": ["high"]}, "reasoning_effort"),
    ({"stream_options": "usage"}, "stream_options"),
]


def request(fields: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "messages": [USER], **fields}


@pytest.mark.parametrize("dialect", MAPPINGS)
@pytest.mark.parametrize(("fields", "param"), WRONG_TYPES)
def test_wrong_typed_field_is_a_400_naming_it(dialect, fields, param):
    with pytest.raises(InvalidRequest) as info:
        MAPPINGS[dialect](request(fields))
    assert info.value.param == param
    assert info.value.status == 400 and info.value.type == "invalid_request_error"


@pytest.mark.parametrize("dialect", MAPPINGS)
def test_right_shapes_still_pass(dialect):
    """What clients send in the wild and the checks must not refuse: nulls for unset fields,
    a whole number written as a float, assistant content null next to tool calls."""
    req = request(
        {
            "messages": [
                {"role": "system", "content": None},
                USER,
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "42"},
            ],
            "max_tokens": 100.0,
            "temperature": None,
            "stop": [],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": None}}],
            "tool_choice": {"function": {"name": "f"}},
            "response_format": {"type": "text"},
        }
    )
    out = MAPPINGS[dialect](req)
    encode_request(out)


def test_safety_net_is_a_400_naming_the_dialect(caplog):
    @request_mapping("Example")
    def to_example(req: dict[str, Any]) -> Any:
        return req["absent"]

    with pytest.raises(InvalidRequest) as info:
        to_example(request({}))
    assert info.value.code == "untranslatable_request" and "Example API" in info.value.message
    assert "KeyError('absent')" in caplog.text and "Traceback" not in caplog.text


def test_a_schema_too_deep_to_trim_is_a_400():
    """Gemini's schema trimming recurses: a schema at orjson's depth limit is a 400, not a
    RecursionError."""
    params = orjson.loads(b'{"type": "object", "properties": {"a": ' + b'{"items": ' * 1000 + b"{}" + b"}" * 1002)
    tool = {"type": "function", "function": {"name": "f", "parameters": params}}
    with pytest.raises(InvalidRequest, match="nested too deeply"):
        MAPPINGS["google"](request({"tools": [tool]}))


@pytest.mark.parametrize("dialect", MAPPINGS)
@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(body=bodies(models=wrong_one_in(10)(st.just("m"))))
def test_any_body_maps_or_is_a_400(dialect, body):
    """Only InvalidRequest may leave a mapping, and never through the safety net: every shape
    the fuzz finds is caught by a check that names the field."""
    if not isinstance(body, dict):
        return  # the server's read_body answers 400
    try:
        check_chat(body)
        encode_request(MAPPINGS[dialect]({**body, "model": "m"}))
    except InvalidRequest as e:
        assert e.code != "untranslatable_request", f"no shape check caught it: {e.message}"


# -- end to end: a real gateway in front of every dialect ---------------------------------------

# The aliases of each dialect's providers in the conformance config (plus one that is no model).
MODELS = {
    "openai": ["openai/text", "google-openai/text"],
    "anthropic": ["anthropic/text", "anthropic/tools", "anthropic-defaults/text"],
    "google": ["google/text", "google/json_schema", "google-query/text"],
    "ollama": ["ollama/text", "ollama/tools"],
}


@pytest.fixture(scope="module")
def fuzz_gateway(transcripts: TranscriptUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(
        conformance_config(transcripts),
        env={"LLMS_TEST_ANTHROPIC_KEY": "sk-ant-test", "LLMS_TEST_GOOGLE_KEY": "AIza-test"},
        args=["--verbose"],  # the access line runs too
    ).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


def post(gw: GatewayProcess, http: httpx.Client, content: bytes) -> httpx.Response:
    return http.post(gw.url + "/v1/chat/completions", content=content, headers={"Content-Type": "application/json"})


def assert_envelope(r: httpx.Response) -> dict[str, Any]:
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and isinstance(err["type"], str)
    return err  # type: ignore[no-any-return]


def assert_healthy(gw: GatewayProcess, http: httpx.Client) -> None:
    assert http.get(gw.url + "/health").status_code == 200
    log = gw.output()
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]


@pytest.mark.parametrize("dialect", ["openai", "anthropic", "google", "ollama"])
@pytest.mark.parametrize(("fields", "param"), [case for case in WRONG_TYPES if "stream_options" not in case[0]][:12])
@pytest.mark.parametrize("stream", [False, True])
def test_wrong_typed_field_through_the_gateway(fuzz_gateway, http, dialect, fields, param, stream):
    """Also streamed: the mapping runs before the commit point, so the 400 is a real status."""
    r = post(fuzz_gateway, http, orjson.dumps(request({**fields, "model": f"{dialect}/text", "stream": stream})))
    if dialect == "openai":  # a pass-through: the upstream judges shapes (the transcript takes any)
        assert r.status_code == 200
        return
    assert r.status_code == 400, r.text
    assert assert_envelope(r)["param"] == param


@pytest.mark.parametrize("model", ["openai/text", "anthropic/text", "google/text", "ollama/text"])
def test_json_nested_deeper_than_can_be_forwarded_is_a_400(fuzz_gateway, http, model):
    """orjson reads 1024 levels but writes 254: a body it accepted must not crash the way out."""
    deep = b'{"type": "array", "items": ' * 300 + b"{}" + b"}" * 300
    fmt = b'{"type": "json_schema", "json_schema": {"name": "deep", "schema": ' + deep + b"}}"
    body = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "response_format": %s}' % (
        model.encode(),
        fmt,
    )
    r = post(fuzz_gateway, http, body)
    assert r.status_code == 400, r.text
    assert_envelope(r)
    assert_healthy(fuzz_gateway, http)


@pytest.mark.parametrize("dialect", MODELS)
def test_any_body_gets_a_2xx_or_a_4xx_envelope(fuzz_gateway, http, dialect):
    """40 generated bodies per dialect (160 in all), streamed and not."""
    seen: dict[int, int] = {}
    models = wrong_one_in(10)(st.sampled_from([*MODELS[dialect], "no-such/model"]))

    @settings(max_examples=40, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies(models=models, stream=wrong_one_in(10)(st.booleans())))
    def exchange(body: Any) -> None:
        r = post(fuzz_gateway, http, orjson.dumps(body))
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert 200 <= r.status_code < 300 or 400 <= r.status_code < 500, (r.status_code, r.text[:500], body)
        if r.status_code >= 400:
            assert assert_envelope(r)["code"] != "untranslatable_request", r.text  # a check names the field

    exchange()
    assert seen.get(200) and seen.get(400), seen  # the run reached the mappings, not only the checks
    assert_healthy(fuzz_gateway, http)
