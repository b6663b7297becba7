"""From the command line's words, stdin and flags to the work of one chat: which template,
which prompt, which attachments; then `chat.run_chat` sends it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .chat import Output, run_chat
from .request import UsageError, add_system, attach, chat_json, has_prompt, load_chat_file, parse_args, set_prompt
from .request import template as default_template

ATTACHMENTS = ("image", "audio", "file")


def read_stdin() -> str:
    """Piped input, if any (a terminal is never read: it would wait for the user)."""
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return ""
    return stdin.read()


def read_request(args: argparse.Namespace) -> Callable[[Any], Awaitable[int]] | None:
    """The chat to run, or None when the command line asks for nothing (then: help)."""
    words = " ".join(args.prompt).strip()
    piped = read_stdin()
    chat = load_chat_file(args.chat) if args.chat else None
    if chat is None and piped.strip():
        chat = chat_json(piped, "stdin")
        if chat is not None:
            piped = ""
    prompt = "\n\n".join(part for part in (words, piped.strip()) if part)
    kinds = [k for k in ATTACHMENTS if getattr(args, k)]
    if chat is None and not prompt and not kinds:
        return None
    params = parse_args(args.args) if args.args else {}

    async def work(gateway: Any) -> int:
        defaults = gateway.config.raw.get("defaults") or {}
        request = chat if chat is not None else default_template(defaults, kinds[0] if kinds else "text")
        if args.system:
            add_system(request, args.system)
        if prompt:
            set_prompt(request, prompt)
        for kind in kinds:
            attach(request, kind, getattr(args, kind))
        request.update(params)
        if args.model:
            request["model"] = args.model
        elif not request.get("model"):
            request["model"] = gateway.config.default_model
        if not request.get("model"):
            raise UsageError("no model: pass -m MODEL, or set one with llms --default MODEL")
        if not has_prompt(request):
            raise UsageError("nothing to ask: give a prompt, pipe one on stdin, or pass --chat FILE")
        output = Output(sys.stdout, sys.stderr, sys.stdout.isatty(), sys.stderr.isatty(), args.quiet)
        return await run_chat(gateway.router, request, output, raw=args.raw)

    return work
