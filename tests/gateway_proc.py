"""Runs the real `llms --serve` as a subprocess on a free loopback port, with a generated
`llms.json`, and stops it cleanly. Its stdout/stderr are kept for assertions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    def __init__(
        self,
        config: dict[str, Any] | str,
        *,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        home: Path | None = None,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="llms-test-"))
        self.home = home or self.dir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "llms.json"
        self.config_path.write_text(config if isinstance(config, str) else json.dumps(config, indent=2))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LLMS_HOME": str(self.home), **(env or {})}
        self.args = args or []
        self.log_path = self.dir / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> GatewayProcess:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llms", "--serve", str(self.port), "--config", str(self.config_path), *self.args],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"gateway did not become ready:\n{self.output()}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def run_cli(self, *args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        """`llms ARGS` to completion (for start-up failures, --init, …)."""
        return subprocess.run(
            [sys.executable, "-m", "llms", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
