"""Process-lifetime services, built once at start from the first `llms.json` and injected into
the server; a reload never touches them (so it never resets a counter or loses a record). Part
of the composition root: the only place besides `app` that imports the storage backends.

Today: the usage ledger (SQLite at `$LLMS_HOME/usage.db` by default, PostgreSQL when
`usage.dsn`/`$LLMS_DATABASE_URL` is set), and, with `usage.store_content`, a task that forgets
stored content older than `usage.retention_days` (hourly); readiness (`/health/ready`), with
PostgreSQL (the ledger's) and Redis (shared limits) registered as required backends.

With `--workers N` every worker opens its own sink: SQLite in WAL mode takes several writing
processes; PostgreSQL's outage spool is one file per worker (`usage-spool-<index>.jsonl`), as a
spool is replayed and truncated by the one process that owns it."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import Config, ConfigError, home_dir
from .config.usage import UsageSettings
from .core.types import RequestRecord
from .keys.services import KeyServices, open_keys
from .observability import Observability, open_observability, recorder
from .server import Readiness, Services
from .server.auth import ClientAuth, Gate
from .usage import Sink
from .usage.ledger import Ledger

log = logging.getLogger("llms.usage")
FORGET_EVERY = 3600.0


@dataclass(slots=True)
class Opened:
    """The services and what must be closed with them."""

    services: Services
    sink: Sink | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    keys: KeyServices | None = None
    observability: Observability = field(default_factory=Observability)

    async def aclose(self) -> None:
        """Drain: every record queued so far is stored (or spooled) before this returns."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.services.readiness.aclose()
        await self.observability.aclose()
        if self.keys is not None:
            await self.keys.aclose()
        if self.sink is not None:
            await self.sink.aclose()
            stats = self.sink.stats()
            log.info("usage ledger closed: %s", stats)


def open_sink(settings: UsageSettings, home: Path | None = None, worker: int | None = None) -> Sink:
    """The configured ledger sink, started (database created or upgraded)."""
    home = home or home_dir()
    if settings.dsn:
        from .usage.postgres import PostgresSink

        spool = "usage-spool.jsonl" if worker is None else f"usage-spool-{worker}.jsonl"
        return PostgresSink(settings.dsn, home / spool).start()
    from .usage.sqlite import SqliteSink

    return SqliteSink(Path(settings.path).expanduser() if settings.path else home / "usage.db").start()


def key_database(settings: UsageSettings, home: Path | None = None) -> tuple[Path, str | None]:
    """Where client keys live: the ledger's database (also when the ledger itself is off)."""
    home = home or home_dir()
    return (Path(settings.path).expanduser() if settings.path else home / "usage.db"), settings.dsn


async def add_keys(config: Config, opened: Opened) -> None:
    """Client keys (unless the ledger is off and nothing asks for keys): the key table,
    the limiter (shared through Redis with `limits.redis_url`) and the admin API, and a `record`
    service that settles each request's real tokens and cost on its key's limits."""
    access = config.access
    if not config.usage.enabled and not access.required and access.admin_key is None:
        return  # `"usage": false` and no keys asked for: no database at all
    path, dsn = key_database(config.usage)
    try:
        keys = await open_keys(path, dsn, access.redis_url, access.fail_closed)
    except Exception as e:  # a start-up error naming the setting, not a traceback
        where = "usage.dsn" if dsn else "usage.path"
        raise ConfigError(config.source, where, f"cannot open the client keys' database: {e}") from None
    opened.keys = keys
    assert keys.ring is not None
    client = getattr(keys.limiter, "redis", None)  # limits shared through Redis: a required backend
    if client is not None:
        rel = config.reliability
        opened.services.readiness.add_check("redis", client.ping, grace=rel.health_grace, interval=rel.health_interval)
    gate = Gate(ClientAuth(keys.ring.find, access.required, access.admin_key), keys.limiter)
    observed = opened.services.record  # the ledger, metrics and spans (`observability.recorder`)
    settle = keys.limiter.settle
    pricing = Ledger(None)  # type: ignore[arg-type]  # (for its cost(); it submits nothing)

    def record(r: RequestRecord) -> None:
        """The ledger's record (and metrics, spans) and, for a request a key's limits
        admitted, its settlement."""
        if observed is not None:
            observed(r)
        decision = r.limit
        if decision is not None:
            usage = r.usage or {}
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            tokens = (prompt or 0) + (completion or 0) if isinstance(prompt, int) or isinstance(completion, int) else 0
            served = bool(r.attempts) and r.attempts[-1]["status"] == 200  # (as the ledger prices it)
            settle(decision, tokens, pricing.cost(r.pricing, prompt, completion) if served else None)

    opened.services = replace(opened.services, record=record, gate=gate, admin=keys.admin, keys=keys.status)


def open_services(config: Config, version: str = "", worker: int | None = None) -> Opened:
    settings = config.usage
    observability = open_observability(config, version)
    sink = _open_or_fail(config, worker) if settings.enabled else None
    readiness = Readiness()
    ping = getattr(sink, "ping", None)  # PostgreSQL: a required backend; SQLite is a local file
    if ping is not None:
        rel = config.reliability  # "health": {"grace", "interval"}; fixed until the next start
        readiness.add_check("postgresql", ping, grace=rel.health_grace, interval=rel.health_interval)
    services = Services(
        record=recorder(sink, observability),
        store_content=settings.enabled and settings.store_content,
        stats=None if sink is None else lambda: asdict(sink.stats()),
        trace=None if observability.tracing is None else observability.tracing.begin,
        metrics=observability.render,
        metrics_type=observability.content_type,
        readiness=readiness,
    )
    opened = Opened(services, sink, observability=observability)
    if sink is not None and settings.store_content:
        opened.tasks.append(asyncio.ensure_future(_forget(sink, settings.retention_days)))
    return opened


def _open_or_fail(config: Config, worker: int | None = None) -> Sink:
    settings = config.usage
    try:
        return open_sink(settings, worker=worker)
    except (OSError, sqlite3.Error) as e:  # a start-up error naming the setting, not a traceback
        where = "usage.dsn" if settings.dsn else "usage.path"
        raise ConfigError(config.source, where, f"cannot open the usage ledger: {e}") from None


def prepare_ledger(config: Config) -> None:
    """For the `--workers` supervisor: create or upgrade the ledger's database (where client keys
    live too) once, before N workers open it at the same moment (and say once if it cannot)."""
    if config.usage.enabled:
        _open_or_fail(config).close()
    elif config.access.required or config.access.admin_key is not None:
        from .keys.store import open_store

        path, dsn = key_database(config.usage)

        async def migrate() -> None:
            await (await open_store(path, dsn).open()).aclose()

        try:
            asyncio.run(migrate())
        except Exception as e:
            where = "usage.dsn" if dsn else "usage.path"
            raise ConfigError(config.source, where, f"cannot open the client keys' database: {e}") from None


async def _forget(sink: Sink, days: float) -> None:
    """Erase stored content older than `days`, at start and then hourly."""
    while True:
        try:
            erased = await sink.forget_content(time.time() - days * 86400)
            if erased:
                log.info("usage: forgot the content of %d requests older than %g days", erased, days)
        except Exception as e:  # PostgreSQL down: try again next time
            log.warning("usage: forgetting old content failed: %s", e)
        await asyncio.sleep(FORGET_EVERY)


async def usage_summary(config: Config, since: float | None, group_by: str) -> list[dict[str, Any]] | None:
    """The ledger's summary for `llms usage`: None when the ledger is off in `config`."""
    if not config.usage.enabled:
        return None
    sink = await asyncio.to_thread(open_sink, config.usage)
    try:
        return [dict(row) for row in await sink.summary(since, None, group_by)]
    finally:
        await sink.aclose()
