"""The README's examples, run as written: every ```python and ```sh curl block of the client
section against a real gateway (only the host is replaced), the `llms.json` example parsed,
and the config error lines compared with what the command prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llms.config import parse_config

from . import fake_upstream as fu
from .gateway_proc import GatewayProcess, free_port

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def blocks(lang: str, section: str | None = None) -> list[str]:
    text = README
    if section:
        start = text.index(section)
        end = text.find("\n## ", start + 1)
        text = text[start : end if end > 0 else None]
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def kimi_gateway(upstream):
    gw = GatewayProcess(
        {
            "providers": {
                "free": {
                    "type": "OpenAiProvider",
                    "base_url": upstream.base_url("free"),
                    "models": {"kimi-k2": "kimi-upstream-id"},
                }
            }
        }
    ).start()
    yield gw
    gw.stop()


CLIENT_SECTION = "## Use it from any OpenAI client"


def test_client_examples_exist():
    assert len(blocks("python", CLIENT_SECTION)) == 3
    assert any("curl" in b for b in blocks("sh", CLIENT_SECTION))


@pytest.mark.parametrize("index", range(3))
def test_python_examples_run(kimi_gateway, upstream, index):
    upstream.on(
        "free",
        "kimi-upstream-id",
        lambda call: (fu.stream(["Hi ", "there"]) if call.body.get("stream") else fu.reply("Hello from kimi"))(call),
    )
    code = blocks("python", CLIENT_SECTION)[index].replace("http://localhost:8000", kimi_gateway.url)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Hello from kimi" in r.stdout
    if "stream" in code:
        assert "Hi there" in r.stdout
    assert all(c.model == "kimi-upstream-id" for c in upstream.received("free"))


def test_curl_example_runs(kimi_gateway, upstream):
    curl = next(b for b in blocks("sh", CLIENT_SECTION) if "curl" in b)
    r = subprocess.run(
        ["bash", "-c", curl.replace("http://localhost:8000", kimi_gateway.url)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["choices"][0]["message"]["content"] == "Hello from free"


def test_config_example_is_valid():
    (example,) = blocks("json", "## `llms.json`")
    config = parse_config(json.loads(example), "README", env={"GROQ_API_KEY": "x"})
    assert list(config.providers) == ["groq", "openrouter", "local-vllm"]
    assert config.providers["openrouter"].params == {"temperature": 0.7}


def test_config_error_lines_match_the_command(tmp_path):
    bad = tmp_path / "llms.json"
    bad.write_text('{"providers": {"groq": {"type": "OpenAiProvider", "models": []}}}')
    r = subprocess.run(
        [sys.executable, "-m", "llms", "--serve", str(free_port()), "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    shown = [ln for ln in README.splitlines() if "providers.groq.models" in ln and ln.startswith("llms:")]
    assert shown and shown[0].replace("/home/me/.llms/llms.json", str(bad)) == r.stderr.strip()
