"""A gateway with the edge settings under test: short header/body/write timeouts, one extra
allowed origin and one extra allowed host; its providers point at the session's fake upstream
(`tests/conftest.py`), which records every request that got through."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from ..conftest import two_provider_config
from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess

ALLOWED_ORIGIN = "https://app.example.com"
ALLOWED_HOST = "gw.internal"
HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
WRITE_TIMEOUT = 2.0
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


def edge_config(upstream: FakeUpstream) -> dict[str, Any]:
    config = two_provider_config(upstream)
    config["cors"] = {"allow_origins": [ALLOWED_ORIGIN]}
    config["server"] = {
        "allowed_hosts": [ALLOWED_HOST],
        "header_timeout": HEADER_TIMEOUT,
        "body_timeout": BODY_TIMEOUT,
    }
    config["streaming"] = {"write_timeout": WRITE_TIMEOUT}
    return config


@pytest.fixture(scope="session")
def edge_gateway(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(
        edge_config(upstream),
        env={"LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret", "LLMS_TEST_UNSET_KEY": ""},
        args=["--verbose"],
    ).start()
    yield gw
    gw.stop()


def request(
    gw: GatewayProcess,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (`Host` too, when given)."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=timeout)
    hdrs = dict(headers or {})
    data = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.putrequest(method, path, skip_host="Host" in hdrs, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw_connection(gw: GatewayProcess, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gw.port), timeout=timeout)


def read_all(sock: socket.socket, limit: int = 64 * 1024 * 1024) -> bytes:
    """Everything until the gateway closes the connection (or the socket's timeout, or `limit`)."""
    out = bytearray()
    try:
        while len(out) < limit and (chunk := sock.recv(65536)):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return bytes(out)


def envelope(body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    assert set(data["error"]) == {"message", "type", "param", "code"}, data
    return data["error"]
