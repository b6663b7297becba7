"""One worker of `llms --serve PORT --workers N`: started by the supervisor (never by hand)
with the shared listening socket's descriptor; runs `llms.app.run` on that socket."""

from __future__ import annotations

import argparse
import socket

from ..app import Worker, run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llms.workers")
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--parent", type=int, required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--banner", action="store_true")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    a = p.parse_args(argv)
    sock = socket.socket(fileno=a.fd)
    worker = Worker(sock, a.index, a.count, a.parent, a.banner)
    return run(a.config, a.host, a.port, a.verbose, a.log_format, worker)


if __name__ == "__main__":
    raise SystemExit(main())
