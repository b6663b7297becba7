"""The HTTP surface: request validation errors, limits, unknown paths, health, llms.py's
`/models` and `/status`, and the page at `/`."""

from __future__ import annotations

import httpx
import pytest

from .gateway_proc import GatewayProcess


def chat(gateway, content: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        content=content,
        timeout=10,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"", None, "empty"),
        (b"[1, 2]", None, "must be a JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "`model` is required"),
        (b'{"model": 5, "messages": []}', "model", "`model` is required"),
        (b'{"model": "chat"}', "messages", "`messages` is required"),
        (b'{"model": "chat", "messages": "hi"}', "messages", "non-empty array"),
        (b'{"model": "chat", "messages": [{"content": "x"}]}', "messages[0]", "string `role`"),
        (b'{"model": "chat", "messages": [{"role": "user"}], "stream": "yes"}', "stream", "boolean"),
    ],
)
def test_bad_requests_are_400_naming_the_field(gateway, upstream, body, param, fragment):
    r = chat(gateway, body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error" and err["param"] == param
    assert fragment in err["message"]
    assert upstream.received() == []


def test_oversized_body_is_413_by_length_and_by_chunks(gateway):
    big = b'{"model": "chat", "messages": [{"role": "user", "content": "' + b"x" * (1024 * 1024) + b'"}]}'
    r = chat(gateway, big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks():
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = httpx.post(gateway.url + "/v1/chat/completions", content=chunks(), timeout=10)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_unknown_api_paths_are_404_envelopes(gateway):
    for path in ("/v1/nothing", "/v1/embeddings/x", "/v1"):
        r = httpx.get(gateway.url + path, timeout=5)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(gateway.url + "/v1/chat/completions", timeout=5)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_legacy_chat_path_and_models_and_status(gateway, upstream):
    r = httpx.post(
        gateway.url + "/chat/completions",
        timeout=5,
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Hello from primary"

    models = httpx.get(gateway.url + "/models", timeout=5).json()
    assert models[0] == {
        "id": "chat",
        "provider": "primary",
        "provider_model": "p-chat",
        "pricing": "0.000001/0.000002",
    }
    assert {"id": "only-secondary", "provider": "secondary", "provider_model": "s-only", "pricing": None} in models

    status = httpx.get(gateway.url + "/status", timeout=5).json()
    states = {p["name"]: p["state"] for p in status["providers"]}
    assert states["primary"] == "enabled" and states["off"] == "disabled"
    assert states["nokey"].startswith("skipped: $LLMS_TEST_UNSET_KEY")


def test_health_and_readiness(gateway):
    assert httpx.get(gateway.url + "/health", timeout=5).json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/health/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"

    empty = GatewayProcess({"providers": {}}).start()
    try:
        assert httpx.get(empty.url + "/health", timeout=5).status_code == 200
        r = httpx.get(empty.url + "/health/ready", timeout=5)
        assert r.status_code == 503 and r.json()["reason"] == "no provider is enabled"
    finally:
        empty.stop()


def test_root_serves_a_page(gateway):
    r = httpx.get(gateway.url + "/", timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower()
