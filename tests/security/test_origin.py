"""Browser origins: a page on another site cannot drive the gateway (403, nothing forwarded);
the gateway's own origin, loopback origins and `cors.allow_origins` can, with CORS headers,
streams included; preflights from allowed origins get 204 with what the browser asked for."""

from __future__ import annotations

import json
import signal
import time

import pytest

from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess
from .conftest import ALLOWED_ORIGIN, CHAT, edge_config, envelope, request

REFUSED = [
    "https://evil.example",
    "http://evil.test:8000",
    "null",
    "http://localhost.evil.example",
    "https://app.example.com.evil.example",
    "file://",
]


@pytest.mark.parametrize("origin", REFUSED)
def test_a_foreign_origin_is_refused_before_anything_is_forwarded(
    edge_gateway: GatewayProcess, upstream: FakeUpstream, origin: str
) -> None:
    # The no-cors "simple request" a page can send without a preflight.
    status, headers, body = request(
        edge_gateway, "POST", "/v1/chat/completions", CHAT, {"Origin": origin, "Content-Type": "text/plain"}
    )
    assert status == 403, body
    err = envelope(body)
    assert err["code"] == "origin_not_allowed"
    assert "cors.allow_origins" in err["message"]
    assert "access-control-allow-origin" not in headers
    assert upstream.received() == []


def test_a_foreign_origin_is_refused_on_every_route(edge_gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    for method, path in [("GET", "/v1/models"), ("GET", "/status"), ("POST", "/chat/completions"), ("GET", "/")]:
        status, _, body = request(
            edge_gateway, method, path, CHAT if method == "POST" else None, {"Origin": "https://evil.example"}
        )
        assert status == 403, (path, body)
    assert upstream.received() == []


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080", "https://localhost", ALLOWED_ORIGIN],
)
def test_loopback_and_configured_origins_are_served_with_cors_headers(
    edge_gateway: GatewayProcess, upstream: FakeUpstream, origin: str
) -> None:
    status, headers, body = request(edge_gateway, "POST", "/v1/chat/completions", CHAT, {"Origin": origin})
    assert status == 200, body
    assert headers["access-control-allow-origin"] == origin
    assert "Origin" in headers["vary"]
    exposed = headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "x-llms-provider" in exposed
    assert len(upstream.received()) == 1


def test_a_streamed_answer_to_an_allowed_origin_carries_cors_headers(
    edge_gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    status, headers, body = request(
        edge_gateway, "POST", "/v1/chat/completions", {**CHAT, "stream": True}, {"Origin": "http://localhost:5173"}
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://localhost:5173"
    assert body.rstrip().endswith(b"data: [DONE]")


def test_the_gateways_own_origin_is_served(edge_gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    origin = f"http://127.0.0.1:{edge_gateway.port}"
    status, headers, _ = request(edge_gateway, "POST", "/v1/chat/completions", CHAT, {"Origin": origin})
    assert status == 200
    # An allowed host name serving its own page (e.g. behind a reverse proxy keeping Host).
    status, _, _ = request(
        edge_gateway, "POST", "/v1/chat/completions", CHAT, {"Origin": "https://gw.internal", "Host": "gw.internal"}
    )
    assert status == 200
    assert len(upstream.received()) == 2


def test_a_request_without_origin_is_served_without_cors_headers(
    edge_gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    status, headers, _ = request(edge_gateway, "POST", "/v1/chat/completions", CHAT)
    assert status == 200
    assert "access-control-allow-origin" not in headers


def test_a_preflight_from_an_allowed_origin(edge_gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    status, headers, body = request(
        edge_gateway,
        "OPTIONS",
        "/v1/chat/completions",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-llms-timeout",
        },
    )
    assert status == 204, body
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    allowed = {h.strip() for h in headers["access-control-allow-headers"].lower().split(",")}
    assert {"authorization", "content-type", "x-llms-timeout"} <= allowed
    assert int(headers["access-control-max-age"]) > 0
    assert "Origin" in headers["vary"]
    assert upstream.received() == []


def test_a_preflight_from_a_foreign_origin_is_refused(edge_gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    status, headers, body = request(
        edge_gateway,
        "OPTIONS",
        "/v1/chat/completions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 403
    assert "access-control-allow-origin" not in headers
    assert envelope(body)["code"] == "origin_not_allowed"


def test_a_reload_applies_new_origins_and_hosts(upstream: FakeUpstream) -> None:
    config = edge_config(upstream)
    gw = GatewayProcess(config, env={"LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret"}).start()
    try:
        hdrs = {"Origin": "https://late.example", "Host": "late.example"}
        assert request(gw, "POST", "/v1/chat/completions", CHAT, hdrs)[0] == 403
        config["cors"] = {"allow_origins": ["https://late.example"]}
        config["server"] = {"allowed_hosts": ["late.example"]}
        gw.config_path.write_text(json.dumps(config))
        assert gw.proc is not None
        gw.proc.send_signal(signal.SIGHUP)
        end = time.monotonic() + 10
        while request(gw, "POST", "/v1/chat/completions", CHAT, hdrs)[0] != 200:
            assert time.monotonic() < end, gw.output()
            time.sleep(0.1)
    finally:
        gw.stop()
