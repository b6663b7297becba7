"""A throw-away PostgreSQL server for tests and the ledger benchmark: `initdb` into a temp dir,
a free loopback port, `pg_ctl start`/`stop`. initdb refuses to run as root, so as root the
server runs as the `postgres` user (via runuser) and owns its data dir."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb, or the one on $PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """`start()` makes and starts a fresh cluster; `stop()`/`restart()` for outage tests;
    `destroy()` stops it and removes its files. `dsn` reaches database `postgres` as `postgres`."""

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        # tests skip fsync for speed; the benchmark measures a durable server (the defaults)
        self.durable = durable
        self.tmp = Path(tempfile.mkdtemp(prefix="llms-pg-"))
        self.data = self.tmp / "data"
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            os.chmod(self.tmp, 0o755)
            shutil.chown(self.tmp, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = [*self._as_user, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                      "--no-sync", "-E", "UTF8", "--locale=C")  # fmt: skip
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.tmp}"
        if not self.durable:
            opts += " -c fsync=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                  "-l", str(self.tmp / "log"), "-w", "-t", "60", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.start()

    def destroy(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)
