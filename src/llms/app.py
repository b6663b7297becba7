"""Composition root: reads the config, builds the providers, the router and the HTTP app,
and runs the server. The only module that imports `llms.config`.

While serving, `Live` keeps the configuration current: on SIGHUP or when `llms.json`
changes (its mtime is polled once a second — no watcher dependency for one file) it builds
a whole new gateway, swaps the router's table for new requests, and closes the old
providers once their requests in flight are done; a bad file is logged and changes
nothing. SIGTERM/SIGINT turn `/health/ready` to 503, keep serving for `shutdown.delay`
seconds (0: none) so a load balancer can take this process out, stop accepting, let requests
in flight finish within `shutdown.grace` seconds, close the upstream connections and exit 0
(a second signal stops at once).

With `--workers N` (`llms.workers`) this module runs in each worker: `serve` then listens on
the socket the supervisor inherited to it (`Worker`) instead of binding one, prints the banner
only in the first worker, and drains and exits if the supervisor disappears."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import logging.handlers
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from . import __version__
from .config import PACKAGED, Config, ConfigError, home_dir, init_home, load_config  # noqa: F401 (init_home: for the cli)
from .config.edge import AUTH_NOTICE
from .config.reliability import ProviderReliability
from .core.types import ProviderConfig
from .keys import KeyRefused  # noqa: F401 (for `llms keys`)
from .keys.services import KeyServices, open_keys
from .observe.logs import LineLogger
from .observe.logs import install as install_logging
from .providers import Factory, Provider, ProviderConfigInvalid, ProviderUnavailable, factory_for, known_types
from .router import DEFAULT_BUDGET, BreakerPolicy, ProviderPolicy, RetryPolicy, Router, RouterPolicy, Table
from .server import CHAT, Current, Runtime, ServerSettings, make_app
from .server.app import EDGE
from .server.lifecycle import drain
from .server.protocol import EdgeRunner
from .server.usage_api import add_usage_routes
from .services import add_keys, key_database, open_services, prepare_ledger
from .transport.scrub import Scrubber

log = logging.getLogger("llms")


@dataclass(slots=True)
class Gateway:
    """The runtime of one configuration, built from a `Config`: its providers and, once they
    have started (and discovered their models), its routing table. A reload builds a new one
    and swaps it in whole; process-lifetime services are not part of it."""

    config: Config
    providers: list[Provider]
    unkeyed: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    table: Table | None = None  # set by start_providers()

    @property
    def router(self) -> Router:
        """A router over this configuration's table, for in-process use (the command line);
        the server builds its own once and swaps tables into it on reload."""
        return Router.over(table_of(self))

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()


def build(config: Config) -> Gateway:
    """Instantiate the enabled providers in config order. An unknown type is a config
    error; a provider whose `$API_KEY` variable is unset is skipped with a notice."""
    providers: list[Provider] = []
    notices: list[str] = []
    status: list[dict[str, Any]] = []
    unkeyed: dict[str, list[tuple[str, str]]] = {}  # alias → (provider, env var): for the 404
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
            for alias in pc.models:
                unkeyed.setdefault(alias, []).append((name, pc.api_key_env or ""))
        else:
            entry["state"] = _add_provider(config.source, factory, pc, providers, notices)
        status.append(entry)
    if config.edge.auth_requested:
        notices.append(AUTH_NOTICE)
    return Gateway(config, providers, unkeyed, notices, status)


def router_policy(config: Config) -> RouterPolicy:
    """The router's budget and per-provider retry/breaker/concurrency policies."""
    rel = config.reliability

    def policy(part: ProviderReliability) -> ProviderPolicy:
        return ProviderPolicy(RetryPolicy(**part.retries), BreakerPolicy(**part.breaker), part.concurrency)

    return RouterPolicy(
        budget=rel.budget or DEFAULT_BUDGET,
        default=policy(rel.default),
        providers={name: policy(part) for name, part in rel.providers.items()},
    )


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
    # after start(): it may have discovered models
    gateway.table = Table(gateway.providers, router_policy(gateway.config), gateway.unkeyed)


def table_of(gateway: Gateway) -> Table:
    if gateway.table is None:
        raise RuntimeError("start_providers() builds the table")
    return gateway.table


def runtime_for(gateway: Gateway) -> Runtime:
    """What the HTTP side reads per request, from this configuration."""
    config = gateway.config
    return Runtime(
        max_size=config.client_max_size,
        default_model=config.default_model,
        providers=tuple(gateway.status),
        keepalive=config.reliability.keepalive,
        write_timeout=config.reliability.write_timeout,
        allow_origins=config.edge.allow_origins,
        allowed_hosts=config.edge.allowed_hosts,
        header_timeout=config.edge.header_timeout,
        body_timeout=config.edge.body_timeout,
    )


def setup_logging(verbose: bool, log_format: str = "text") -> logging.handlers.QueueListener:
    """Log records go through a queue to stderr on a thread: no logging I/O on the event loop.
    `log_format` is `text` (human-readable) or `json` (one object per line); either way each
    line about a request carries its id and no configured secret (`observe/logs.py`)."""
    global _log_formatter
    listener, _log_formatter = install_logging(log_format, logging.INFO if verbose else logging.WARNING)
    return listener


_log_formatter: Any = None  # the formatter `setup_logging` installed: it learns the secrets to blank


def redact_secrets(config: Config) -> None:
    """Tell the log formatter every secret `config` holds (keys, credential headers), besides
    those it knew: after a reload the old keys may still be on requests in flight."""
    if _log_formatter is None:
        return
    secrets: list[str] = list(_log_formatter.secrets)
    for pc in config.providers.values():
        secrets += Scrubber.for_provider(pc.api_key, pc.headers, pc.base_url).secrets
    _log_formatter.set_secrets(secrets)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def first_price(router: Router, model: str) -> str | None:
    """The pricing of the provider a model is tried at first (for a budget's estimate)."""
    providers = router.candidates.get(model)
    return providers[0].price(model) if providers else None


def auth_line(keys: KeyServices | None, required: bool) -> str:
    """The banner's word on who may use the gateway."""
    count = len(keys.ring.by_prefix) if keys is not None and keys.ring is not None else 0
    if required:
        return f"  auth: client keys required ({count} keys; `llms keys create --name NAME` makes one)"
    return "  auth: off, no key needed (`\"auth\": {\"required\": true}` in llms.json turns client keys on)"


def worker_lines(gateway: Gateway, port: int, keys: KeyServices | None, worker: Worker, out: TextIO) -> None:
    """`--workers N`: what is per process and worth knowing."""
    print(f"  workers: {worker.count} processes sharing port {port} (supervisor pid {worker.parent})", file=out)
    if any(e["type"] == "LlamaCppProvider" and e.get("state") == "enabled" for e in gateway.status):
        print("  notice: each worker loads its own copy of the local model (~190 MiB) on first use", file=out)
    in_use = keys is not None and (gateway.config.access.required or bool(keys.ring and keys.ring.by_prefix))
    if in_use and keys is not None and keys.limiter.status().get("backend") == "local":
        print(f"  notice: client key limits are counted per worker (up to {worker.count}x a key's limit);"
              " limits.redis_url shares them", file=out)  # fmt: skip


def banner(
    gateway: Gateway, host: str, port: int, out: TextIO, keys: KeyServices | None = None, worker: Worker | None = None
) -> None:
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::") else host
    print(f"llms {__version__}: config {gateway.config.source}", file=out)
    if worker is not None:
        worker_lines(gateway, port, keys, worker, out)
    for note in gateway.notices:
        print(f"  notice: {note}", file=out)
    for p in gateway.providers:
        print(f"  provider {p.name}: {len(p.models)} models", file=out)
    if not gateway.providers:
        print("  no provider is enabled: set an API key variable (e.g. GROQ_API_KEY) or edit llms.json", file=out)
    required = gateway.config.access.required
    print(auth_line(keys, required), file=out)
    if not is_loopback(host) and not required:
        print(f"  warning: listening on {host} without client auth: anyone who can reach it uses your keys"
              " (set \"auth\": {\"required\": true})", file=out)  # fmt: skip
    print(f"UI:  http://{shown}:{port}/", file=out)
    print(f"API: http://{shown}:{port}/v1", file=out, flush=True)


class Live:
    """The running configuration, reloaded on SIGHUP or when its file changes."""

    def __init__(self, gateway: Gateway, path: str | None) -> None:
        self.gateway = gateway
        self.router = Router.over(table_of(gateway))  # built once; reloads swap its table
        self.current = Current(runtime_for(gateway))  # the server reads it; reloads replace it
        self.path = path
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retiring: list[Gateway] = []
        self.app: web.Application | None = None  # set once the HTTP app exists (its edge policy follows reloads)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self, why: str) -> bool:
        """Build the new configuration; on success route new requests by it."""
        async with self._lock:
            try:
                new = build(load_config(self.path))
                await start_providers(new)
            except ConfigError as e:
                log.error(
                    "config reload (%s) rejected: %s: %s: %s; still serving the previous config",
                    why,
                    e.source,
                    e.where or "-",
                    e.reason,
                )
                return False
            except Exception as e:  # a provider factory bug must not take the gateway down
                log.exception("config reload (%s) failed: %s; still serving the previous config", why, e)
                return False
            old, old_table = self.gateway, self.router.swap(table_of(new))
            self.gateway = new
            self.current.runtime = runtime_for(new)  # swapped whole, never edited in place
            redact_secrets(new.config)  # (the old keys stay blanked too: they may still be in flight)
            if self.app is not None:
                edge = new.config.edge
                self.app[EDGE].configure(edge.allow_origins, edge.allowed_hosts)
            if new.config.usage != old.config.usage:
                log.warning("config reload: the `usage` settings take effect at the next start")
            if new.config.telemetry != old.config.telemetry:
                log.warning("config reload: the `telemetry` settings take effect at the next start")
            if new.config.access != old.config.access:
                log.warning("config reload: the `auth` and `limits.redis_url` settings take effect at the next start")
            log.warning(
                "config reloaded from %s (%s): %d providers, %d models",
                new.config.source,
                why,
                len(new.providers),
                len(table_of(new).candidates),
            )
            for note in new.notices:
                log.warning("notice: %s", note)
            self.spawn(self._retire(old, old_table))
            return True

    async def _retire(self, gateway: Gateway, table: Table) -> None:
        """Close the old providers once the requests that started on them are over (every
        request ends within its budget, so this wait is bounded)."""
        self._retiring.append(gateway)
        drained = await table.drained(table.policy.budget + 5)
        self._retiring.remove(gateway)
        await gateway.aclose()
        log.info(
            "previous config: %d providers closed (%s)",
            len(gateway.providers),
            "its requests were done" if drained else f"{table.active} requests still running",
        )

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the config file's stat; reload when it changes."""
        path = Path(self.gateway.config.source)
        seen = _stamp(path)
        while True:
            await asyncio.sleep(interval)
            now = _stamp(path)
            if now != seen:
                await asyncio.sleep(0.1)  # let the writer finish
                seen = _stamp(path)
                await self.reload("file changed")

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for gateway in [*self._retiring, self.gateway]:
            await gateway.aclose()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


@dataclass(slots=True)
class Worker:
    """How the `--workers N` supervisor (`llms.workers`) started this process."""

    sock: socket.socket  # the listening socket every worker shares (inherited, already bound)
    index: int
    count: int
    parent: int  # the supervisor's pid: if it is gone, nobody restarts or stops us, so drain and exit
    banner: bool  # only the first worker's first start prints the banner


async def serve(
    config_path: str | None, host: str, port: int, verbose: bool, out: TextIO, worker: Worker | None = None
) -> int:
    config = load_config(config_path)
    for key in config.ignored:
        log.debug("llms.json: ignoring top-level key %r", key)
    redact_secrets(config)
    opened = open_services(config, __version__, worker.index if worker else None)  # process lifetime: reloads keep it
    try:
        await add_keys(config, opened)
        gateway = build(config)
        await start_providers(gateway)
    except BaseException:
        await opened.aclose()
        raise
    live = Live(gateway, config_path)
    if opened.services.gate is not None:  # a budget's estimate prices the model where it is tried first
        opened.services.gate.price = lambda model: first_price(live.router, model)
    app = make_app(live.router, ServerSettings(__version__, verbose, host), live.current, opened.services)
    opened.observability.bind(live.router, app[CHAT], opened.sink)
    if opened.sink is not None:  # the read API (off: its paths answer 404, the analytics page says so)
        add_usage_routes(app, opened.sink)
    live.app = app
    # drain() waits for the chat requests itself; aiohttp's own wait is for the rest
    runner = EdgeRunner(app, current=live.current, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.SockSite(runner, worker.sock) if worker else web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        await gateway.aclose()
        await opened.aclose()
        print(f"llms: cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
        return 1
    if worker is None or worker.banner:
        banner(gateway, host, port, out, opened.keys, worker)
    opened.services.readiness.start()
    # What start-up built (modules, config, providers, the app) lives as long as the process:
    # take it out of the cyclic GC's reach, so a full collection under load walks only what
    # requests allocate (~6 ms -> well under 1 ms; those pauses are tail latency).
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: live.spawn(live.reload("SIGHUP")))
    if config.source != PACKAGED:
        live.spawn(live.watch())
    if worker is not None:
        live.spawn(_orphaned(worker.parent, stop))
    await stop.wait()
    opened.services.readiness.draining = True  # from the moment SIGTERM arrives
    rel = live.gateway.config.reliability  # as last reloaded
    await drain(runner, live.aclose, rel.shutdown_grace, rel.shutdown_delay)
    await opened.aclose()  # after the last request ended: its record is in, and now on disk
    return 0


async def _orphaned(parent: int, stop: asyncio.Event) -> None:
    """A worker whose supervisor died (kill -9) would serve on unsupervised: drain instead."""
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    log.warning("the supervisor (pid %d) is gone: draining and exiting", parent)
    stop.set()


def prepare(config_path: str | None) -> None:
    """What the `--workers` supervisor checks once before starting workers: llms.json is valid
    and the ledger's database exists at the current schema. Raises `ConfigError`."""
    prepare_ledger(load_config(config_path))


def run(
    config_path: str | None, host: str, port: int, verbose: bool, log_format: str = "text", worker: Worker | None = None
) -> int:
    listener = setup_logging(verbose, log_format)
    out: TextIO = sys.stdout if log_format != "json" else LineLogger(logging.getLogger("llms"))  # type: ignore[assignment]
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(serve(config_path, host, port, verbose, out, worker))
        return uvloop.run(serve(config_path, host, port, verbose, out, worker))
    except ConfigError as e:
        print(f"llms: bad config: {e}", file=sys.stderr)
        return 2
    finally:
        listener.stop()


# -- in-process use, without the HTTP server (the command line) -----------------------------------


async def usage_table(config_path: str | None, since: float | None, group_by: str) -> list[dict[str, Any]] | None:
    """`llms usage`: the ledger's summary rows (None when `"usage": false`)."""
    from .services import usage_summary

    return await usage_summary(load_config(config_path), since, group_by)


async def open_gateway(config_path: str | None) -> Gateway:
    """The router and providers the server would run, built from the same file and started,
    but not listening: `llms "prompt"`, `llms ls` and `llms --check` call them directly.
    The caller closes it with `aclose()`."""
    gateway = build(load_config(config_path))
    await start_providers(gateway)
    return gateway


async def open_key_services(config: Config, serve: bool = True) -> KeyServices:
    """The client-keys service over the ledger's database (the server's, or `llms keys`'s)."""
    path, dsn = key_database(config.usage)
    access = config.access
    return await open_keys(path, dsn, access.redis_url, access.fail_closed, serve=serve)
