"""The `llms` command: chat from the terminal (`llms "prompt"`), `llms ls`, `--check`,
`--enable/--disable/--default` (the only writers of llms.json), and `--serve`/`--init`.
Everything but `--serve` runs the router and providers in this process, no server needed."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from .. import __version__

EXAMPLES = """\
examples:
  llms "What is the capital of France?"
  llms -m smollm2 -s "Answer in one word." "What is the capital of France?"
  cat notes.txt | llms "Summarize this"
  echo '{"model": "kimi-k2", "messages": [...]}' | llms        (a chat JSON on stdin)
  llms --image photo.jpg "What is in this picture?"             (also --audio, --file; a path, URL or data URI)
  llms --chat request.json --args "temperature=0.7&seed=111" --raw
  llms ls                       llms ls groq openrouter
  llms usage --since 7d --by model                              (the request ledger's summary)
  llms --check groq             llms --check groq kimi-k2 llama3.3:70b
  llms --enable groq openrouter llms --disable google_free    llms --default kimi-k2
  llms --serve 8000             llms --serve 8000 --workers auto
  llms keys create --name alice --models kimi-k2 --rpm 50 --budget 5 --period day
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llms",
        description="OpenAI-compatible LLM gateway with ordered failover, and its command line.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("prompt", nargs="*", help="the prompt (words are joined); `ls [provider…]` lists models")
    chat = p.add_argument_group("chat")
    chat.add_argument("-m", "--model", help="model to use (default: defaults.text.model)")
    chat.add_argument("-s", "--system", metavar="PROMPT", help="system prompt")
    chat.add_argument("--image", metavar="PATH|URL", help="attach an image (defaults.image)")
    chat.add_argument("--audio", metavar="PATH|URL", help="attach audio (defaults.audio)")
    chat.add_argument("--file", metavar="PATH|URL", help="attach a file, e.g. a PDF (defaults.file)")
    chat.add_argument("--chat", metavar="FILE", help="a chat completion request (JSON) to send")
    chat.add_argument("--args", metavar="PARAMS", help='request parameters, e.g. "temperature=0.7&seed=111"')
    chat.add_argument("--raw", action="store_true", help="print the whole JSON response")
    chat.add_argument("-q", "--quiet", action="store_true", help="no usage line on stderr")
    manage = p.add_argument_group("providers and llms.json")
    manage.add_argument("--list", action="store_true", help="providers and their models (also: llms ls)")
    manage.add_argument("--check", metavar="PROVIDER", help="send defaults.check to its models (or those named)")
    manage.add_argument("--enable", nargs="+", metavar="PROVIDER", help="enable providers in llms.json")
    manage.add_argument("--disable", nargs="+", metavar="PROVIDER", help="disable providers in llms.json")
    manage.add_argument("--default", metavar="MODEL", help="set defaults.text.model in llms.json")
    usage = p.add_argument_group("usage ledger (llms usage)")
    usage.add_argument("--since", metavar="AGE", help="only requests newer than this, e.g. 7d, 24h (default: all)")
    usage.add_argument("--by", default="day", metavar="GROUP", help="group by day (default), model, provider or key")
    server = p.add_argument_group("server")
    server.add_argument("--serve", metavar="PORT", type=int, help="serve the API (/v1) and the chat UI (/) on PORT")
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    server.add_argument(
        "--workers", default="1", metavar="N", help="serve: N processes on the port (default 1; auto: one per core)"
    )
    server.add_argument(
        "--verbose", action="store_true", help="serve: log one line per request (also VERBOSE=1); else: the notices"
    )
    server.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="json" if os.environ.get("LLMS_LOG_FORMAT", "").lower() == "json" else "text",
        help="serve: log lines as text (default) or one JSON object per line (also LLMS_LOG_FORMAT)",
    )
    p.add_argument("--config", metavar="FILE", help="llms.json to use (default: $LLMS_HOME/llms.json, ~/.llms)")
    p.add_argument("--init", action="store_true", help="write the default llms.json into the home folder")
    p.add_argument("-v", "--version", action="version", version=f"llms {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config, rest = (argv[1], argv[2:]) if argv[:1] == ["--config"] and len(argv) > 1 else (None, argv)
    if rest[:1] == ["keys"]:  # `llms [--config FILE] keys create|list|revoke|update …`
        from .keys import main as keys_main

        return keys_main(rest[1:], config)
    p = parser()
    args = p.parse_intermixed_args(argv)
    if args.init:
        from ..app import init_home

        path, written = init_home()
        print(f"{'wrote' if written else 'kept the existing'} {path}")
        if args.serve is None:
            return 0
    if args.serve is not None:
        return _serve(p, args)
    try:
        return _command(p, args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _serve(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from ..workers import parse_count

    verbose = args.verbose or os.environ.get("VERBOSE", "") not in ("", "0", "false")
    try:
        workers = parse_count(args.workers)
    except ValueError:
        p.error(f"--workers: expected a whole number of at least 1 or auto, got {args.workers!r}")
    if workers > 1:
        from ..workers import serve_workers

        return serve_workers(args.config, args.host, args.serve, verbose, workers, args.log_format)
    from ..app import run

    return run(args.config, args.host, args.serve, verbose, args.log_format)


def _command(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .request import UsageError

    try:
        if args.enable or args.disable or args.default:
            return _edit(args)
        if args.list or args.prompt[:1] == ["ls"]:
            names = args.prompt[1:] if args.prompt[:1] == ["ls"] else args.prompt
            return _in_process(args, lambda gw: _ls(gw, names))
        if args.check:
            return _in_process(args, lambda gw: _check(gw, args.check, args.prompt))
        if args.prompt == ["usage"]:
            return _usage(args)
        from .prompt import read_request

        build = read_request(args)
        if build is None:
            p.print_help(sys.stderr)
            return 2
        return _in_process(args, build)
    except UsageError as e:
        print(f"llms: {e}", file=sys.stderr)
        return 2


def _edit(args: argparse.Namespace) -> int:
    from .edit import set_default, set_enabled

    code = 0
    if args.enable:
        code = code or set_enabled(args.config, args.enable, True, sys.stdout)
    if args.disable:
        code = code or set_enabled(args.config, args.disable, False, sys.stdout)
    if args.default:
        code = code or set_default(args.config, args.default, sys.stdout)
    return code


async def _ls(gateway: Any, names: list[str]) -> int:
    from .inventory import list_providers

    return list_providers(gateway, names, sys.stdout)


async def _check(gateway: Any, name: str, models: list[str]) -> int:
    from .inventory import check_provider

    return await check_provider(gateway, name, models, sys.stdout)


def _usage(args: argparse.Namespace) -> int:
    from ..app import ConfigError
    from .usage import show_usage

    try:
        return asyncio.run(show_usage(args.config, args.since, args.by, sys.stdout))
    except ConfigError as e:
        print(f"llms: bad config: {e}", file=sys.stderr)
        return 2


def _in_process(args: argparse.Namespace, work: Any) -> int:
    """Build the gateway from llms.json, run `work(gateway)` on an event loop, close it.
    A config error or a failed request is one line on stderr, never a traceback."""
    from ..app import ConfigError, open_gateway
    from ..core.errors import GatewayError

    async def go() -> int:
        gateway = await open_gateway(args.config)
        if args.verbose:  # which file, and why a provider is not in use
            print(f"llms: config {gateway.config.source}", file=sys.stderr)
            for note in gateway.notices:
                print(f"llms: notice: {note}", file=sys.stderr)
        try:
            return int(await work(gateway))
        finally:
            await gateway.aclose()

    try:
        return asyncio.run(go())
    except ConfigError as e:
        print(f"llms: bad config: {e}", file=sys.stderr)
        return 2
    except GatewayError as e:
        print(f"llms: error: {e.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
