"""DNS rebinding: on a loopback bind only Host values naming this machine (any port) and
`server.allowed_hosts` are served; any other Host gets a 403 and nothing is forwarded."""

from __future__ import annotations

import pytest

from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess
from .conftest import ALLOWED_HOST, CHAT, envelope, request


@pytest.mark.parametrize(
    "host", ["evil.test", "evil.test:8000", "localhost.evil.test", "10.0.0.5:8000", "gw.internal.evil"]
)
def test_a_foreign_host_is_refused_before_anything_is_forwarded(
    edge_gateway: GatewayProcess, upstream: FakeUpstream, host: str
) -> None:
    # What a rebound page sends: its own name as Host, and its own origin (so "same origin").
    status, _, body = request(
        edge_gateway, "POST", "/v1/chat/completions", CHAT, {"Host": host, "Origin": f"http://{host}"}
    )
    assert status == 403, body
    err = envelope(body)
    assert err["code"] == "host_not_allowed"
    assert "server.allowed_hosts" in err["message"]
    status, _, _ = request(edge_gateway, "GET", "/v1/models", headers={"Host": host})
    assert status == 403
    assert upstream.received() == []


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:1234", "127.0.0.1", "127.0.0.1:9", "[::1]:8000", "LOCALHOST:8000", ALLOWED_HOST]
)
def test_the_machines_own_names_and_allowed_hosts_are_served(
    edge_gateway: GatewayProcess, upstream: FakeUpstream, host: str
) -> None:
    status, _, body = request(edge_gateway, "POST", "/v1/chat/completions", CHAT, {"Host": host})
    assert status == 200, body
    assert len(upstream.received()) == 1
