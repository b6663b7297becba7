"""`llms keys …` as a user runs it (a subprocess): the key printed once as the last line,
`--config` and `LLMS_HOME` honoured, the same database the server uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llms.keys import token


def llms(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMS_HOME": str(home)}
    env.pop("LLMS_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "llms", *args], env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_create_list_update_revoke(tmp_path: Path):
    home = tmp_path / "home"
    out = llms("keys", "create", "--name", "alice", "--models", "fast,smart", "--rpm", "50", "--budget", "5",
               "--period", "day", "--expires", "2099-01-31", home=home).stdout  # fmt: skip
    key = out.strip().splitlines()[-1]
    assert token.parse(key) is not None
    assert (home / "usage.db").exists()
    assert key.encode() not in (home / "usage.db").read_bytes()
    llms("keys", "create", "--name", "bob", home=home)
    llms("keys", "update", "alice", "--rpm", "none", "--tpm", "1000", home=home)
    llms("keys", "revoke", "bob", home=home)
    table = llms("keys", "list", home=home).stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "KEY", "STATE", "MODELS"]
    alice = table[1].split()
    assert alice[:4] == ["alice", f"sk-llms-{token.parse(key)[0]}_…", "active", "fast,smart"]  # type: ignore[index]
    assert alice[4:7] == ["-", "1000", "$5/day"]
    assert table[2].split()[:3] == ["bob", table[2].split()[1], "revoked"]
    assert key not in "\n".join(table)
    again = llms("keys", "create", "--name", "alice", home=home, check=False)
    assert again.returncode == 1 and "exists" in again.stderr


def test_config_names_the_database(tmp_path: Path):
    db = tmp_path / "elsewhere" / "ledger.db"
    config = tmp_path / "llms.json"
    config.write_text(json.dumps({"providers": {}, "usage": {"path": str(db)}}))
    llms("--config", str(config), "keys", "create", "--name", "x", home=tmp_path / "home")
    llms("keys", "--config", str(config), "create", "--name", "y", home=tmp_path / "home")
    assert db.exists() and not (tmp_path / "home" / "usage.db").exists()
    listed = llms("keys", "list", "--config", str(config), home=tmp_path / "home").stdout
    assert [line.split()[0] for line in listed.splitlines()[1:]] == ["x", "y"]


def test_bad_values_are_usage_errors(tmp_path: Path):
    done = llms("keys", "create", "--name", "a", "--rpm", "0", home=tmp_path, check=False)
    assert done.returncode == 2 and "above 0" in done.stderr
    done = llms("keys", "revoke", "nobody", home=tmp_path, check=False)
    assert done.returncode == 1 and "no key named" in done.stderr
