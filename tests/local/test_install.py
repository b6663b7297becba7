"""The README's first command, as a new user runs it: a fresh virtualenv, the install line
from the README (its `llms --serve 8000` swapped for one question on the command line), and
an answer from the built-in model. Measured times live in docs/local.md, not here."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def first_command() -> list[str]:
    """The README's first shell line under "The two commands", split at `&&`."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## The two commands.*?```sh\n(.*?)\n", readme, re.S)
    assert block, "README: no sh block under 'The two commands'"
    return [part.strip() for part in block.group(1).split("&&")]


def test_the_first_command_installs_a_local_model_that_answers(tmp_path: Path):
    steps = first_command()
    assert steps[-1] == "llms --serve 8000"
    assert not any("CMAKE_ARGS" in step for step in steps)  # nothing to type by hand
    clone = tmp_path / "clone"  # what the build needs (pip builds in the tree: keep ours clean)
    clone.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", clone)
    shutil.copy2(ROOT / "README.md", clone)
    shutil.copytree(ROOT / "src", clone / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    started = time.monotonic()
    for step in steps[:-1]:
        argv = shlex.split(step)
        assert argv[0] == "pip", step
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", *argv[1:]],
            cwd=clone, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    llms = venv / "bin" / "llms"
    question = "What is the capital of France? Answer in one word."
    answer = subprocess.run(
        [str(llms), "-m", "smollm2", "--args", "temperature=0&max_tokens=32", question],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert "Paris" in answer.stdout
    assert answer.stderr.startswith("smollm2 · local (SmolLM2-135M-Instruct) · ")
    print(f"install and first answer: {time.monotonic() - started:.1f} s")  # (shown with -s)
