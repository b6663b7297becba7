"""A real nginx (Debian's package) in front of test replicas: deploy/nginx.conf with the
replicas' loopback ports and a free listening port put in, wrapped in a main config of its own
(prefix dir, pid, logs and temp paths in a temp dir, `daemon off`), stopped at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.gateway_proc import free_port

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
REPLICAS = ("llms-1:8000", "llms-2:8000")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def render(ports: list[int], listen: int) -> str:
    """deploy/nginx.conf as it is, but for loopback replicas and a loopback port."""
    text = DEPLOY_CONF.read_text()
    for name, port in zip(REPLICAS, ports, strict=True):
        assert f"server {name} " in text
        text = text.replace(f"server {name} ", f"server 127.0.0.1:{port} ")
    assert "listen 8080;" in text
    return text.replace("listen 8080;", f"listen 127.0.0.1:{listen};")


class Nginx:
    def __init__(self, replica_ports: list[int]) -> None:
        binary = nginx_binary()
        assert binary, "nginx is not installed (scripts/setup.d/60-nginx.sh)"
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="llms-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "llms.conf").write_text(render(replica_ports, self.port))
        user = "user root root;\n" if os.geteuid() == 0 else ""
        d = self.dir
        (d / "nginx.conf").write_text(
            f"""{user}daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/llms.conf;
}}
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Nginx:
        d = self.dir
        args = [self.binary, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, self.errors()
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1).close()
                return self
            except urllib.error.HTTPError:
                return self  # nginx answers (a replica may not be up yet)
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start:\n{self.errors()}")

    def errors(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # fast shutdown of master and worker
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
