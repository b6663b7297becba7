"""Reload and SIGTERM lose no record (N requests → N rows); `"usage": false` turns the ledger
off; the `usage` settings are validated with path-named errors."""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from llms.config import ConfigError, parse_config

from .. import fake_upstream as fu
from ..conftest import two_provider_config
from ..gateway_proc import GatewayProcess
from ..test_failover import MSG
from .conftest import ENV, read_records


def ask(gw: GatewayProcess, stream: bool) -> str:
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "chat", "messages": MSG, "stream": stream},
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"]


def test_reload_and_sigterm_lose_nothing(upstream):
    upstream.on("primary", "p-chat", fu.stream(["a", "b", "c", "d"], delay=0.1))
    gw = GatewayProcess(two_provider_config(upstream), env=ENV).start()
    try:
        with ThreadPoolExecutor(16) as pool:
            first = [pool.submit(ask, gw, i % 2 == 0) for i in range(40)]
            time.sleep(0.2)
            config = two_provider_config(upstream)
            config["limits"]["client_max_size"] += 1  # a real change
            gw.config_path.write_text(json.dumps(config))
            gw.proc.send_signal(signal.SIGHUP)
            ids = [f.result() for f in first]
            assert upstream.wait_for(lambda: "config reloaded" in gw.output(), timeout=10)
            # now SIGTERM with streams in flight: they finish within the grace, and are recorded
            last = [pool.submit(ask, gw, True) for _ in range(10)]
            assert upstream.wait_for(lambda: len(upstream.received("primary")) >= 50, timeout=10)
            gw.proc.send_signal(signal.SIGTERM)
            ids += [f.result() for f in last]
        assert gw.proc.wait(20) == 0
    finally:
        gw.stop()
    stored = {r.id: r for r in read_records(gw.home / "usage.db")}
    assert len(ids) == 50 and set(ids) == set(stored)
    assert {r.outcome for r in stored.values()} == {"ok"}


def test_usage_false_turns_it_off(upstream):
    config = {**two_provider_config(upstream), "usage": False}
    gw = GatewayProcess(config, env=ENV).start()
    try:
        r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "chat", "messages": MSG}, timeout=20)
        assert r.status_code == 200 and r.headers["x-request-id"].startswith("req_")
        assert httpx.get(gw.url + "/status", timeout=10).json()["usage"] is None
        assert httpx.get(gw.url + "/usage/summary", timeout=10).status_code == 404  # the page says "off"
    finally:
        gw.stop()
    assert not (gw.home / "usage.db").exists()


def test_usage_path_and_content(upstream, tmp_path):
    db = tmp_path / "elsewhere.db"
    config = {**two_provider_config(upstream), "usage": {"path": str(db), "store_content": True}}
    gw = GatewayProcess(config, env=ENV).start()
    try:
        rid = ask(gw, False)
        sid = ask(gw, True)
    finally:
        gw.stop()
    stored = {r.id: r for r in read_records(db)}
    assert stored[rid].content["request"]["messages"] == MSG
    assert stored[rid].content["response"]["choices"][0]["message"]["content"]
    assert stored[sid].content["response"]["choices"][0]["message"]["content"] == "Hello there!"


@pytest.mark.parametrize(
    "usage, where",
    [
        ("yes", "usage"),
        ({"paht": "x"}, "usage.paht"),
        ({"path": 3}, "usage.path"),
        ({"dsn": "mysql://x"}, "usage.dsn"),
        ({"dsn": "$LLMS_TEST_NO_SUCH_DSN"}, "usage.dsn"),
        ({"store_content": "yes"}, "usage.store_content"),
        ({"retention_days": 0}, "usage.retention_days"),
    ],
)
def test_bad_usage_settings_name_the_path(usage, where):
    with pytest.raises(ConfigError) as e:
        parse_config({"providers": {}, "usage": usage}, "llms.json", env={})
    assert e.value.where == where


def test_usage_defaults_and_env_dsn():
    base = {"providers": {}}
    on = parse_config(base, "x", env={}).usage
    assert (on.enabled, on.path, on.dsn, on.store_content) == (True, None, None, False)
    pg = parse_config(base, "x", env={"LLMS_DATABASE_URL": "postgresql://u@h/db"}).usage
    assert pg.dsn == "postgresql://u@h/db"
    ref = parse_config({**base, "usage": {"dsn": "$DB"}}, "x", env={"DB": "postgresql://a@b/c"}).usage
    assert ref.dsn == "postgresql://a@b/c"


def test_old_content_is_forgotten(upstream, tmp_path):
    """`store_content` with `retention_days`: content older than that is erased (at start, then
    hourly); the record itself stays."""
    import dataclasses

    from llms.usage.record import UsageRecord
    from llms.usage.sqlite import SqliteSink

    db = tmp_path / "usage.db"
    old = UsageRecord.start("chat.completions", "chat", False)
    old = dataclasses.replace(old, created=time.time() - 3 * 86400, status=200, content={"request": {"x": 1}})
    sink = SqliteSink(db).start()
    sink.submit(old)
    sink.close()
    config = {**two_provider_config(upstream), "usage": {"path": str(db), "store_content": True, "retention_days": 1}}
    gw = GatewayProcess(config, env=ENV).start()
    try:
        rid = ask(gw, False)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            stored = {r.id: r for r in read_records(db)}
            if rid in stored and stored[old.id].content is None:
                break
            time.sleep(0.1)
    finally:
        gw.stop()
    stored = {r.id: r for r in read_records(db)}
    assert stored[old.id].content is None and stored[old.id].status == 200
    assert stored[rid].content is not None  # today's stays


def test_unopenable_ledger_is_a_config_error(upstream, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = {**two_provider_config(upstream), "usage": {"path": str(blocker / "usage.db")}}
    gw = GatewayProcess(config, env=ENV)
    done = gw.run_cli("--serve", "0", "--config", str(gw.config_path))
    assert done.returncode == 2
    assert "usage.path: cannot open the usage ledger" in done.stderr and "Traceback" not in done.stderr
