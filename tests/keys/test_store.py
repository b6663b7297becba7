"""The key store on real SQLite and real PostgreSQL: create/list/update/revoke, the key text
never stored (the database file and every table searched for it), spend from the ledger."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llms.keys import token
from llms.keys.store import KeyExists, KeyNotFound, KeyRefused, KeyStore, SqliteKeyStore
from llms.usage.sqlite import SqliteSink

from ..usage.conftest import make_record


def test_key_text_round_trip():
    text, prefix, digest = token.new_key()
    assert text.startswith("sk-llms-" + prefix + "_")
    parsed = token.parse(text)
    assert parsed is not None and parsed[0] == prefix
    assert token.matches(parsed[1], digest)
    assert not token.matches(parsed[1] + "x", digest)
    for bad in ("", "sk-llms-", "sk-llms-zzzzzzzz_abc", "sk-llms-0123456_abc", "Bearer x", "sk-proj-abc"):
        assert token.parse(bad) is None


async def test_create_list_update_revoke(store: KeyStore):
    key, text = await store.create("alice", models=["fast", "smart"], rpm=50, tpm=1000, budget=5)
    assert text.startswith("sk-llms-") and key.period == "month"  # a budget without a period: monthly
    assert key.models == ("fast", "smart") and key.rpm == 50 and key.active()
    with pytest.raises(KeyExists):
        await store.create("alice")
    with pytest.raises(KeyRefused):
        await store.create("bad name")
    with pytest.raises(KeyRefused):
        await store.create("bob", rpm=0)
    await store.create("bob")
    assert [k.name for k in await store.list()] == ["alice", "bob"]
    stamp = await store.stamp()
    updated = await store.update("alice", rpm=10, models=None)
    assert updated.rpm == 10 and updated.models is None and updated.tpm == 1000
    assert (await store.get("alice")) == updated
    assert await store.stamp() != stamp
    revoked = await store.revoke("alice")
    assert revoked.revoked is not None and not revoked.active()
    assert (await store.revoke("alice")).revoked == revoked.revoked  # idempotent
    with pytest.raises(KeyNotFound):
        await store.revoke("carol")
    with pytest.raises(KeyNotFound):
        await store.update("carol", rpm=1)
    with pytest.raises(KeyRefused):
        await store.update("bob", color="red")


async def test_expired_key_is_not_active(store: KeyStore):
    key, _ = await store.create("temp", expires=time.time() - 1)
    assert not key.active()


async def _all_text(store: KeyStore) -> str:
    """Every value of every row of every table, as text."""
    if isinstance(store, SqliteKeyStore):
        tables = [r[0] for r in await store._fetch("SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        tables = [r[0] for r in await store._fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    out = []
    for t in tables:
        out.extend(repr(row) for row in await store._fetch(f"SELECT * FROM {t}"))
    return "\n".join(out)


async def test_database_never_holds_a_key_in_clear(store: KeyStore, tmp_path: Path):
    texts = [(await store.create(f"k{i}", rpm=5))[1] for i in range(5)]
    await store.update("k1", tpm=9)
    await store.revoke("k2")
    dump = await _all_text(store)
    for text in texts:
        secret = token.parse(text)[1]  # type: ignore[index]
        assert text not in dump and secret not in dump
        assert token.digest(secret) in dump  # what is stored instead
    if isinstance(store, SqliteKeyStore):
        await store.aclose()
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("usage.db*"))
        for text in texts:
            assert token.parse(text)[1].encode() not in raw  # type: ignore[index]
        await store.open()


async def test_spend_since_sums_the_ledger(tmp_path: Path):
    import random

    sink = SqliteSink(tmp_path / "usage.db").start()
    rng = random.Random(1)
    now = time.time()
    records = [make_record(i, rng, now - 10 * i, key="alice" if i % 2 else "bob", cost=0.5) for i in range(10)]
    records.append(make_record(99, rng, now - 10_000, key="alice", cost=100.0))  # before the period asked for
    for r in records:
        sink.submit(r)
    sink.close()
    store = await SqliteKeyStore(tmp_path / "usage.db").open()
    try:
        assert await store.spend_since(now - 1000) == {"alice": 2.5, "bob": 2.5}
    finally:
        await store.aclose()
