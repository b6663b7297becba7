"""`llms keys create|list|revoke|update`: client API keys in the ledger's database (the one the
server uses: `--config FILE`, `$LLMS_HOME`, `usage.path`/`usage.dsn`/`$LLMS_DATABASE_URL`).
`create` prints the new key once, as the last line of its output; only its digest is stored."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

CLEAR = "none"  # `--rpm none`, `--models all`: remove a limit with `update`


def _count(text: str) -> int | None:
    if text.lower() == CLEAR:
        return None
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number above 0 (or 'none')")
    return value


def _usd(text: str) -> float | None:
    if text.lower() == CLEAR:
        return None
    value = float(text.lstrip("$"))
    if value <= 0:
        raise argparse.ArgumentTypeError("expected an amount above 0 (or 'none')")
    return value


def _models(text: str) -> list[str] | None:
    if text.lower() in ("all", CLEAR, "*"):
        return None
    return [m.strip() for m in text.split(",") if m.strip()]


def _date(text: str) -> float | None:
    """`2027-01-31` (00:00 UTC that day) or an ISO date-time (UTC unless it says otherwise)."""
    if text.lower() in (CLEAR, "never"):
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date such as 2027-01-31 or 2027-01-31T18:00") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llms keys", description="Client API keys: who may use this gateway.")
    p.add_argument("--config", metavar="FILE", help="llms.json to use (default: $LLMS_HOME/llms.json, ~/.llms)")
    sub = p.add_subparsers(dest="command", required=True, metavar="create|list|revoke|update")

    def limits(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--models", type=_models, metavar="a,b", help="models it may use (default: all)")
        sp.add_argument("--rpm", type=_count, metavar="N", help="requests per minute")
        sp.add_argument("--tpm", type=_count, metavar="N", help="tokens per minute (counted after each call)")
        sp.add_argument("--budget", type=_usd, metavar="USD", help="spend allowed per period")
        sp.add_argument("--period", choices=("day", "week", "month"), help="budget period (default month)")
        sp.add_argument("--expires", type=_date, metavar="DATE", help="stops working at DATE (UTC)")
        sp.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    create = sub.add_parser("create", help="make a key; prints it once, as the last line")
    create.add_argument("--name", required=True, help="who or what uses it (shown in the ledger)")
    limits(create)
    lst = sub.add_parser("list", help="every key with its limits and spend this period")
    lst.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    revoke = sub.add_parser("revoke", help="stop a key from working (on every replica within a second)")
    revoke.add_argument("name")
    revoke.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    update = sub.add_parser("update", help="change a key's models or limits ('none' removes one)")
    update.add_argument("name")
    limits(update)
    return p


def _settings(args: argparse.Namespace, given: list[str]) -> dict[str, Any]:
    """The settings named on the command line (for update: only those, 'none' clearing one)."""
    return {k: getattr(args, k) for k in ("models", "rpm", "tpm", "budget", "period", "expires") if f"--{k}" in given}


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def _state(k: dict[str, Any]) -> str:
    if k["revoked"] is not None:
        return "revoked"
    if k["expires"] is not None and k["expires"] <= time.time():
        return "expired"
    return "active"


def print_table(keys: list[dict[str, Any]], out: TextIO) -> None:
    head = ("NAME", "KEY", "STATE", "MODELS", "RPM", "TPM", "BUDGET", "SPEND", "EXPIRES", "CREATED")
    rows = [head]
    for k in keys:
        budget = "-" if k["budget"] is None else f"${k['budget']:g}/{k['period']}"
        spend = f"${k['spend']:.4f}" + ("" if k["budget"] is not None else f"/{k['spend_period']}")
        rows.append((k["name"], f"sk-llms-{k['prefix']}_…", _state(k), ",".join(k["models"] or ["all"]),
                     str(k["rpm"] or "-"), str(k["tpm"] or "-"), budget, spend, _when(k["expires"]),
                     _when(k["created"])))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), file=out)


def _describe(k: dict[str, Any]) -> str:
    parts = [f"models {','.join(k['models'])}" if k["models"] else "all models"]
    parts += [f"{n} {k[n]}" for n in ("rpm", "tpm") if k[n] is not None]
    if k["budget"] is not None:
        parts.append(f"budget ${k['budget']:g} per {k['period']}")
    if k["expires"] is not None:
        parts.append(f"expires {_when(k['expires'])} UTC")
    return ", ".join(parts)


async def run(args: argparse.Namespace, given: list[str], out: TextIO) -> int:
    from ..app import load_config, open_key_services

    services = await open_key_services(load_config(args.config), serve=False)
    try:
        admin = services.admin
        if args.command == "create":
            k = await admin.create(args.name, **_settings(args, given))
            print(f"created key {k['name']!r}: {_describe(k)}", file=out)
            print("Keep it now: it is shown only this once.", file=out)
            print(k["key"], file=out, flush=True)
        elif args.command == "list":
            print_table(await admin.list(), out)
        elif args.command == "revoke":
            k = await admin.revoke(args.name)
            print(f"revoked key {k['name']!r} (sk-llms-{k['prefix']}_…)", file=out)
        else:
            k = await admin.update(args.name, **_settings(args, given))
            print(f"updated key {k['name']!r}: {_describe(k)}", file=out)
    finally:
        await services.aclose()
    return 0


def main(argv: list[str], config: str | None = None) -> int:
    """`argv` after the word `keys`; `config` from an `llms --config FILE keys …` before it."""
    args = parser().parse_args(argv)
    if getattr(args, "config", None) is None:
        args.config = config
    from ..app import ConfigError, KeyRefused

    try:
        return asyncio.run(run(args, [a.split("=", 1)[0] for a in argv], sys.stdout))
    except KeyRefused as e:
        print(f"llms keys: {e}", file=sys.stderr)
        return 1
    except ConfigError as e:
        print(f"llms: bad config: {e}", file=sys.stderr)
        return 2
