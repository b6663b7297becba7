"""Claude Code (`claude -p`, Messages API) and Codex (`codex exec`, Responses API) run headless
against the real gateway, each completing a prompt served by an OpenAI-compatible fake upstream.
The CLIs come from npm (scripts/setup.d/50-agent-clis.sh); without them these tests skip.

Both are kept off the network: Claude Code by CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (and
no telemetry, error reports or updates), Codex by turning off its plugin sync, apps, updates,
browser/computer use, model discovery and analytics (it otherwise fetches plugins from GitHub)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

CLIS = Path(os.environ.get("LLMS_TEST_CLIS", Path.home() / ".cache" / "llms-test-clis")) / "node_modules" / ".bin"
CODEX_OFF = [
    "plugins",
    "remote_plugin",
    "plugin_sharing",
    "apps",
    "in_app_updates",
    "browser_use",
    "browser_use_external",
    "computer_use",
    "image_generation",
    "skill_search",
    "api_key_model_discovery",
]


def _cli(name: str) -> Path:
    path = CLIS / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in {CLIS} (scripts/setup.d/50-agent-clis.sh installs it with npm)")
    return path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", **extra}


def test_claude_code_headless(gateway, upstream, tmp_path):
    claude = _cli("claude")
    models = {k: "gpt" for k in ("ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL")}
    env = _env(
        tmp_path,
        ANTHROPIC_BASE_URL=gateway.url,
        ANTHROPIC_API_KEY="sk-unused",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        **models,
    )
    run = subprocess.run(
        [str(claude), "-p", "Say hi", "--output-format", "json", "--model", "gpt"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    result = json.loads(run.stdout)
    assert run.returncode == 0 and not result["is_error"], run.stdout + run.stderr
    assert result["result"] == "Hello there!" and result["usage"]["output_tokens"] == 4
    sent = upstream.received("primary")[-1]
    assert sent.path == "/primary/v1/chat/completions" and sent.body["tools"]  # its own tools, translated


def test_codex_exec(gateway, upstream, tmp_path):
    codex = _cli("codex")
    (tmp_path / "codex").mkdir()
    provider = f'{{name="llms", base_url="{gateway.url}/v1", wire_api="responses", env_key="LLMS_KEY"}}'
    off = [arg for feature in CODEX_OFF for arg in ("--disable", feature)]
    config = ["-c", "analytics.enabled=false", "-c", "model_provider=llms", "-c", f"model_providers.llms={provider}"]
    run = subprocess.run(
        [str(codex), "exec", "--skip-git-repo-check", "--json", *off, *config, "-m", "gpt", "Say hi"],
        env=_env(tmp_path, CODEX_HOME=str(tmp_path / "codex"), LLMS_KEY="sk-unused"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    messages = [e["item"]["text"] for e in events if e.get("item", {}).get("type") == "agent_message"]
    assert run.returncode == 0 and messages == ["Hello there!"], run.stdout + run.stderr[-2000:]
    assert events[-1]["type"] == "turn.completed" and events[-1]["usage"]["output_tokens"] == 4
    assert upstream.received("primary")[-1].path == "/primary/v1/chat/completions"
