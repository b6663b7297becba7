"""`llms usage` prints the ledger's summary as a table whose numbers match a count done here."""

from __future__ import annotations

import io

import httpx
import pytest

from llms.cli.request import UsageError
from llms.cli.usage import render, since_seconds

from .. import fake_upstream as fu
from ..conftest import two_provider_config
from ..gateway_proc import GatewayProcess
from ..test_failover import MSG
from .conftest import ENV


def test_llms_usage_by_model(upstream):
    upstream.on("primary", "p-chat", fu.reply("a b c", usage={"prompt_tokens": 7, "completion_tokens": 3,
                                                                "total_tokens": 10}))
    upstream.on("secondary", "s-only", fu.error(500))
    gw = GatewayProcess(two_provider_config(upstream), env=ENV).start()
    try:
        url = gw.url + "/v1/chat/completions"
        for _ in range(3):
            assert httpx.post(url, json={"model": "chat", "messages": MSG}).status_code == 200
        r = httpx.post(url, json={"model": "only-secondary", "messages": MSG})
        assert r.status_code == 502
    finally:
        gw.stop()
    done = gw.run_cli("usage", "--by", "model", "--since", "1h", "--config", str(gw.config_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == "model requests errors in tokens out tokens cost $ p50 ms p95 ms".split()
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["chat"][1:6] == ["3", "0", "21", "9", f"{3 * (7e-6 + 3 * 2e-6):.6f}"]
    assert rows["only-secondary"][1:6] == ["1", "1", "-", "-", "-"]
    assert rows["total"][1:3] == ["4", "1"]


def test_render_and_since():
    out = io.StringIO()
    render([], "day", out)
    assert "no requests" in out.getvalue()
    assert since_seconds("2d", now=1_000_000) == 1_000_000 - 2 * 86400
    assert since_seconds(None) is None
    with pytest.raises(UsageError):
        since_seconds("yesterday")
