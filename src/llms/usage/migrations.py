"""The ledger's schema as an ordered, append-only list of migrations, written in SQL that SQLite
and PostgreSQL both accept, so the two backends share one schema. Each backend applies the ones
its `schema_migrations` table lacks, in order, each in its own transaction (the shape of simonw's
`llm/migrations.py`). Never edit or reorder an entry that has shipped: append a new one."""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    name: str
    statements: tuple[str, ...]


# Tracks what has been applied; created before anything else, outside the numbered list.
BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "requests table", (
        """CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            created DOUBLE PRECISION NOT NULL,
            api TEXT NOT NULL,
            model TEXT NOT NULL,
            provider TEXT,
            provider_model TEXT,
            stream BOOLEAN NOT NULL,
            status INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            attempts TEXT NOT NULL,
            prompt_tokens BIGINT,
            completion_tokens BIGINT,
            cached_tokens BIGINT,
            reasoning_tokens BIGINT,
            cost DOUBLE PRECISION,
            ttft_ms DOUBLE PRECISION,
            duration_ms DOUBLE PRECISION,
            key TEXT
        )""",
    )),
    # newest-first paging and time-bounded summaries both walk `created`
    Migration(2, "requests by time", ("CREATE INDEX requests_created ON requests (created, id)",)),
    # message content, kept only when `usage.store_content` is on
    Migration(3, "request content", ("ALTER TABLE requests ADD COLUMN content TEXT",)),
    # client API keys (llms.keys): the secret only as its SHA-256, found by its clear prefix
    Migration(4, "client keys", (
        """CREATE TABLE client_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL UNIQUE,
            hash TEXT NOT NULL,
            models TEXT,
            rpm BIGINT,
            tpm BIGINT,
            budget DOUBLE PRECISION,
            period TEXT,
            expires DOUBLE PRECISION,
            revoked DOUBLE PRECISION,
            created DOUBLE PRECISION NOT NULL,
            updated DOUBLE PRECISION NOT NULL
        )""",
        # a key's spend this period is summed from its records
        "CREATE INDEX requests_key ON requests (key, created)",
    )),
)  # fmt: skip


def pending(applied: set[int], upto: int | None = None) -> list[Migration]:
    """The migrations not yet in `applied`, in order (up to version `upto`, for tests that
    build an old database)."""
    return [m for m in MIGRATIONS if m.version not in applied and (upto is None or m.version <= upto)]
