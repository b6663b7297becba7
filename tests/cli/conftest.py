"""The `llms` command as a subprocess (`python -m llms --config FILE …`) against the shared
fake upstream: `primary`, `secondary` (both serve `chat`), `nokey` (key unset), `off`
(disabled); `defaults.text.model` is `chat`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import two_provider_config
from ..fake_upstream import FakeUpstream

Run = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(home: Path) -> dict[str, str]:
    """The command's environment; without PYTHONUNBUFFERED, so a test sees the command's own
    flushing (a pipe is block-buffered by default), as a user's shell would."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {
        **env,
        "LLMS_HOME": str(home),
        "LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret",
        "LLMS_TEST_UNSET_KEY": "",
    }


@pytest.fixture
def config_path(upstream: FakeUpstream, tmp_path: Path) -> Path:
    config = two_provider_config(upstream)
    config["defaults"]["text"] = {"model": "chat"}
    config["timeouts"] = {**config["timeouts"], "idle": 10, "total": 20}  # room for a loaded machine
    path = tmp_path / "llms.json"
    path.write_text(json.dumps(config, indent=2))
    return path


@pytest.fixture
def llms(config_path: Path, tmp_path: Path) -> Run:
    """`llms(*args, input="")` → the finished process (stdin is `input`, never a terminal)."""

    def run(*args: str, input: str = "", timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "llms", "--config", str(config_path), *args],
            input=input,
            capture_output=True,
            text=True,
            env=cli_env(tmp_path / "home"),
            timeout=timeout,
        )

    return run


@pytest.fixture
def llms_popen(config_path: Path, tmp_path: Path):
    """`llms_popen(*args)` → a running process with binary stdout/stderr pipes (killed at the end)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llms", "--config", str(config_path), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(tmp_path / "home"),
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
