"""Composition root: reads the config, builds the providers, the router and the HTTP app,
and runs the server. The only module that imports `llms.config`."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import logging.handlers
import queue
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiohttp import web

from . import __version__
from .config import Config, ConfigError, init_home, load_config  # noqa: F401 (init_home: for the cli)
from .core.types import ProviderConfig
from .providers import Factory, Provider, ProviderConfigInvalid, ProviderUnavailable, factory_for, known_types
from .router import Router
from .server import ServerSettings, make_app

log = logging.getLogger("llms")


@dataclass(slots=True)
class Gateway:
    """Everything one running configuration needs, built from a `Config`."""

    config: Config
    providers: list[Provider]
    router: Router
    notices: list[str] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()


def build(config: Config) -> Gateway:
    """Instantiate the enabled providers in config order. An unknown type is a config
    error; a provider whose `$API_KEY` variable is unset is skipped with a notice."""
    providers: list[Provider] = []
    notices: list[str] = []
    status: list[dict[str, Any]] = []
    for name, pc in config.providers.items():
        factory = factory_for(pc.type)
        if factory is None:
            raise ConfigError(
                config.source,
                f"providers.{name}.type",
                f"unknown provider type {pc.type!r} (known: {', '.join(known_types())})",
            )
        entry: dict[str, Any] = {"name": name, "type": pc.type, "models": len(pc.models)}
        if not pc.enabled:
            entry["state"] = "disabled"
        elif pc.missing_key:
            entry["state"] = f"skipped: ${pc.api_key_env} is not set"
            notices.append(f"{name}: skipped, ${pc.api_key_env} is not set")
        else:
            entry["state"] = _add_provider(config.source, factory, pc, providers, notices)
        status.append(entry)
    return Gateway(config, providers, Router(providers), notices, status)


def _add_provider(
    source: str, factory: Factory, pc: ProviderConfig, providers: list[Provider], notices: list[str]
) -> str:
    """Instantiate one entry and return its /status state. A factory may decline with
    `ProviderUnavailable` (e.g. an optional extra is missing: skipped with a notice) or reject
    one of its keys with `ProviderConfigInvalid` (a config error naming the key)."""
    try:
        providers.append(factory(pc))
    except ProviderUnavailable as e:
        notices.append(f"{pc.name}: skipped, {e}")
        return f"skipped: {e}"
    except ProviderConfigInvalid as e:
        raise ConfigError(source, f"providers.{pc.name}.{e.key}", e.reason) from None
    return "enabled"


async def start_providers(gateway: Gateway) -> None:
    for provider in gateway.providers:
        try:
            await provider.start()
        except Exception as e:  # a provider that cannot start (e.g. Ollama down) is a notice, not a crash
            gateway.notices.append(f"{provider.name}: {e}")
    gateway.router = Router(gateway.providers)  # start() may have discovered models


def settings_for(gateway: Gateway, verbose: bool) -> ServerSettings:
    return ServerSettings(
        max_size=gateway.config.client_max_size,
        default_model=gateway.config.default_model,
        version=__version__,
        providers=gateway.status,
        verbose=verbose,
    )


def setup_logging(verbose: bool) -> logging.handlers.QueueListener:
    """Log records go through a queue to stderr on a thread: no logging I/O on the event loop."""
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    listener = logging.handlers.QueueListener(q, handler)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(q)]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    listener.start()
    return listener


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def banner(gateway: Gateway, host: str, port: int, out: TextIO) -> None:
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::") else host
    print(f"llms {__version__}: config {gateway.config.source}", file=out)
    for note in gateway.notices:
        print(f"  notice: {note}", file=out)
    for p in gateway.providers:
        print(f"  provider {p.name}: {len(p.models)} models", file=out)
    if not gateway.providers:
        print("  no provider is enabled: set an API key variable (e.g. GROQ_API_KEY) or edit llms.json", file=out)
    if not is_loopback(host):
        print(f"  warning: listening on {host} without client auth: anyone who can reach it uses your keys", file=out)
    print(f"UI:  http://{shown}:{port}/", file=out)
    print(f"API: http://{shown}:{port}/v1", file=out, flush=True)


async def serve(config_path: str | None, host: str, port: int, verbose: bool, out: TextIO) -> int:
    config = load_config(config_path)
    for key in config.ignored:
        log.debug("llms.json: ignoring top-level key %r", key)
    gateway = build(config)
    await start_providers(gateway)
    app = make_app(gateway.router, settings_for(gateway, verbose))
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=30, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        await gateway.aclose()
        print(f"llms: cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
        return 1
    banner(gateway, host, port, out)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await gateway.aclose()
    return 0


def run(config_path: str | None, host: str, port: int, verbose: bool) -> int:
    listener = setup_logging(verbose)
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(serve(config_path, host, port, verbose, sys.stdout))
        return uvloop.run(serve(config_path, host, port, verbose, sys.stdout))
    except ConfigError as e:
        print(f"llms: bad config: {e}", file=sys.stderr)
        return 2
    finally:
        listener.stop()
