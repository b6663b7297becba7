"""The `llms` command: `--serve PORT [--host HOST] [--config FILE] [--verbose]`, `--init`."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llms", description="OpenAI-compatible LLM gateway with ordered failover.")
    p.add_argument("--serve", metavar="PORT", type=int, help="serve the API (/v1) and the chat UI (/) on PORT")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--config", metavar="FILE", help="llms.json to use (default: $LLMS_HOME/llms.json, ~/.llms)")
    p.add_argument("--verbose", action="store_true", help="log one line per request (also VERBOSE=1)")
    p.add_argument("--init", action="store_true", help="write the default llms.json into the home folder")
    p.add_argument("--version", action="version", version=f"llms {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config, rest = (argv[1], argv[2:]) if argv[:1] == ["--config"] and len(argv) > 1 else (None, argv)
    if rest[:1] == ["keys"]:  # `llms [--config FILE] keys create|list|revoke|update …`
        from .cli_keys import main as keys_main

        return keys_main(rest[1:], config)
    args = parser().parse_args(argv)
    verbose = args.verbose or os.environ.get("VERBOSE", "") not in ("", "0", "false")
    if args.init:
        from .app import init_home

        path, written = init_home()
        print(f"{'wrote' if written else 'kept the existing'} {path}")
        if args.serve is None:
            return 0
    if args.serve is None:
        parser().print_help(sys.stderr)
        return 2
    from .app import run

    return run(args.config, args.host, args.serve, verbose)


if __name__ == "__main__":
    raise SystemExit(main())
