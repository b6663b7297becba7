"""`llms ls [provider…]` (alias `--list`): the providers and their models with prices, and
why a provider is not in use; `llms --check PROVIDER [models…|all]`: one small request to
each model of one provider, ✓/✗ with the latency and the parsed error."""

from __future__ import annotations

import asyncio
import time
from typing import Any, TextIO

from ..core.errors import GatewayError, UpstreamStatusError
from .request import UsageError, template


def list_providers(gateway: Any, names: list[str], out: TextIO) -> int:
    """Every provider of llms.json in config order (or the named ones), with its state."""
    config = gateway.config
    unknown = [n for n in names if n not in config.providers]
    if unknown:
        raise UsageError(f"unknown provider {', '.join(unknown)} (known: {', '.join(config.providers)})")
    running = {p.name: p for p in gateway.providers}
    for entry in gateway.status:
        name = entry["name"]
        if names and name not in names:
            continue
        provider = running.get(name)
        if provider is None:
            print(f"{name}: {_why_off(entry['state'], name)}", file=out)
            continue
        print(f"{name} ({entry['type']}): {len(provider.models)} models", file=out)
        width = max((len(a) for a in provider.models), default=0)
        for alias in provider.models:
            line = f"  {alias:<{width}}  {provider.provider_model(alias)}"
            price = per_million(provider.price(alias))
            print(line + (f"  {price}" if price else ""), file=out)
    print(f"config: {config.source}", file=out)
    return 0


def _why_off(state: str, name: str) -> str:
    if state == "disabled":
        return f"disabled (llms --enable {name})"
    if state.startswith("skipped: $"):  # "skipped: $GROQ_API_KEY is not set"
        var = state.split()[1]
        return f"skipped, set {var} to use it"
    return state


def per_million(pricing: str | None) -> str | None:
    """llms.py's per-token "input/output" as dollars per million tokens."""
    if not pricing:
        return None
    try:
        price_in, price_out = (float(p) * 1e6 for p in pricing.split("/", 1))
    except ValueError:
        return None
    if price_in == price_out == 0:
        return "free"
    return f"${price_in:g} in / ${price_out:g} out per 1M tokens"


async def check_provider(gateway: Any, name: str, models: list[str], out: TextIO) -> int:
    """Send `defaults.check` (or the provider's own `check`) to each model; the exit code is
    the number of failures."""
    provider = next((p for p in gateway.providers if p.name == name), None)
    if provider is None:
        state = next((e["state"] for e in gateway.status if e["name"] == name), None)
        if state is None:
            raise UsageError(f"unknown provider {name} (known: {', '.join(gateway.config.providers)})")
        raise UsageError(f"{name}: {_why_off(state, name)}")
    if not models or models == ["all"]:
        models = list(provider.models)
    missing = [m for m in models if m not in provider.models]
    if missing:
        raise UsageError(f"{name} has no model {', '.join(missing)} (see llms ls {name})")
    raw = gateway.config.raw
    own = (raw.get("providers", {}).get(name) or {}).get("check")
    base = own if isinstance(own, dict) else template(raw.get("defaults") or {}, "check")
    print(f"checking {len(models)} model{'s' if len(models) != 1 else ''} of {name}:", file=out, flush=True)
    width = max(len(m) for m in models)
    failures = 0
    for alias in models:
        request = {**base, "model": alias, "stream": False}
        started = time.perf_counter()
        try:
            await asyncio.wait_for(provider.chat(request, alias), provider.timeouts.total)
            ok, why = True, ""
        except GatewayError as e:
            ok, why = False, check_error(e)
        except TimeoutError:
            ok, why = False, f"no answer within {provider.timeouts.total:g} s"
        ms = round((time.perf_counter() - started) * 1000)
        failures += not ok
        print(f"  {'✓' if ok else '✗'} {alias:<{width}}  {ms:>6} ms  {why}".rstrip(), file=out, flush=True)
    return min(failures, 125)


def check_error(error: GatewayError) -> str:
    if isinstance(error, UpstreamStatusError):
        return f"HTTP {error.upstream_status}: {error.message}"
    return error.message
