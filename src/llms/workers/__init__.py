"""`llms --serve PORT --workers N`: N gateway processes on one port, each with its own event loop,
under one supervisor process (`supervisor`). `--workers 1` (the default) is the plain single
process of `llms.app.run`, with no supervisor.

How the port is shared, decided by measurement (docs/deploy.md): the supervisor binds ONE
listening socket and every worker inherits it (the model of gunicorn and uvicorn), rather than
each worker binding its own with SO_REUSEPORT. With one socket a worker that dies or restarts
loses no queued connection (with SO_REUSEPORT the kernel resets the connections waiting in the
dead socket's own queue), the port is bound and its errors reported once, before any worker
starts, and no other process of the same user can join the port group."""

from __future__ import annotations

import os
import socket
import sys

from .supervisor import Supervisor, metrics_dir

__all__ = ["Supervisor", "parse_count", "serve_workers"]


def parse_count(value: str) -> int:
    """`N` (at least 1) or `auto`: the cores this process may run on."""
    if value == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)
    n = int(value)  # ValueError: the CLI reports it
    if n < 1:
        raise ValueError(value)
    return n


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The one listening socket the workers share (SO_REUSEADDR, as aiohttp's own sites)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host == "localhost":
        host = "127.0.0.1"
    return socket.create_server((host, port), family=family, backlog=backlog)


def serve_workers(
    config_path: str | None, host: str, port: int, verbose: bool, count: int, log_format: str = "text"
) -> int:
    """Check the config, migrate the ledger and bind the port once (so their errors are said
    once, with the exit codes of one process: 2 and 1), then supervise `count` workers until
    SIGTERM/SIGINT."""
    # here, not at the top: the CLI imports this package (parse_count) before it imports llms.app
    from ..app import ConfigError, prepare, setup_logging

    try:
        prepare(config_path)
    except ConfigError as e:
        print(f"llms: bad config: {e}", file=sys.stderr)
        return 2
    try:
        sock = listen(host, port)
    except OSError as e:
        print(f"llms: cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
        return 1
    listener = setup_logging(verbose, log_format)
    try:
        with metrics_dir() as env:
            base = [sys.executable, "-m", "llms.workers", "--fd", str(sock.fileno()), "--count", str(count)]
            base += ["--host", host, "--port", str(port), "--parent", str(os.getpid())]
            base += ["--config", config_path] if config_path else []
            base += ["--verbose"] if verbose else []
            base += ["--log-format", log_format]
            return Supervisor(base, sock, count, env).run()
    finally:
        sock.close()
        listener.stop()
