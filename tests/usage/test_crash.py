"""`kill -9` loses at most the last batch: the records of the last writer interval (0.25 s by
default; the issue allows 1 s). A child process submits time-stamped records at a steady rate
and is killed; the newest stored record must be younger than the bound."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llms.usage.postgres import PostgresSink
from llms.usage.sqlite import SqliteSink

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 1.0


def lost_window(args: list[str], open_reader) -> tuple[float, int]:
    """Seconds between the kill and the newest stored record, and how many were stored."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen([sys.executable, "-m", "tests.usage.crash_child", *args], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(2.0)
        child.send_signal(signal.SIGKILL)
        killed_at = time.time()
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    reader = open_reader()
    try:
        newest = asyncio.run(reader.requests(limit=1))["data"][0]
        stored = sum(r["requests"] for r in asyncio.run(reader.summary(group_by="model")))
    finally:
        reader.close()
    return killed_at - newest.created, stored


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_loses_at_most_the_last_interval(backend, tmp_path, request):
    if backend == "sqlite":
        db = tmp_path / "usage.db"
        args, open_reader = ["sqlite", str(db)], lambda: SqliteSink(db).start()
    else:
        dsn = request.getfixturevalue("pg_dsn")
        spool = tmp_path / "spool.jsonl"
        args, open_reader = ["postgres", dsn, str(spool)], lambda: PostgresSink(dsn, tmp_path / "other").start()
    window, stored = lost_window(args, open_reader)
    assert stored > 2000  # about 2 s at 5,000/s were submitted
    assert 0 <= window <= BOUND_S, f"kill -9 lost the last {window:.2f} s of records"
