"""The README's command-line examples, run as written (one shell line each, `llms` on PATH
pointing at this checkout with a config whose models are served by the fake upstream)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..fake_upstream import FakeUpstream, reply, stream
from .conftest import cli_env

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def examples() -> list[str]:
    start = README.index("## Command line")
    section = README[start : README.index("\n## ", start + 1)]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for line in block.splitlines() if line.strip()]


def test_there_are_examples():
    assert len(examples()) >= 5


@pytest.mark.parametrize("line", examples())
def test_example_runs(line: str, upstream: FakeUpstream, tmp_path: Path):
    streamed, whole = stream(["An ", "answer."]), reply("An answer.")

    async def answer(call):
        return await (streamed if call.body.get("stream") else whole)(call)

    for model in ("kimi-k2", "smollm2"):
        upstream.on("free", model, answer)
    config = {
        "defaults": {"text": {"model": "kimi-k2"}},
        "providers": {"free": {"type": "OpenAiProvider", "base_url": upstream.base_url("free"),
                               "models": {"kimi-k2": "kimi-k2", "smollm2": "smollm2"}}},
    }  # fmt: skip
    (tmp_path / "llms.json").write_text(json.dumps(config))
    (tmp_path / "notes.txt").write_text("Some notes.\n")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0fake-jpeg")
    (tmp_path / "request.json").write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"}]}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "llms"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m llms --config "{tmp_path / "llms.json"}" "$@"\n')
    wrapper.chmod(0o755)
    env = {**cli_env(tmp_path / "home"), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "An answer." in r.stdout
    assert upstream.received("free"), "nothing reached the upstream"
