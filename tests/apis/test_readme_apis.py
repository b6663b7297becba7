"""The README's examples for the Messages, Responses and embeddings APIs, run as written
against a real gateway (only the host is replaced)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ..gateway_proc import GatewayProcess
from ..test_readme import blocks

SECTION = "## Anthropic Messages, OpenAI Responses and embeddings"


@pytest.fixture(scope="module")
def readme_gateway(upstream):
    models = {"kimi-k2": "kimi-upstream-id", "text-embedding-3-small": "text-embedding-3-small"}
    config = {
        "providers": {"free": {"type": "OpenAiProvider", "base_url": upstream.base_url("free"), "models": models}}
    }
    gw = GatewayProcess(config, env={"LLMS_DATABASE_URL": ""}).start()
    yield gw
    gw.stop()


def test_examples_exist():
    assert len(blocks("python", SECTION)) == 2 and any("claude" in b for b in blocks("sh", SECTION))


@pytest.mark.parametrize("index", range(2))
def test_python_examples_run(readme_gateway, index):
    code = blocks("python", SECTION)[index].replace("http://localhost:8000", readme_gateway.url)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Hello from free" in r.stdout
    if index == 1:
        assert "2 vectors" in r.stdout
