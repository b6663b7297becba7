"""`llms.json`: validation messages (file, path, reason), `$ENV` secrets, the packaged
default, `--init`, and the start-up behaviour of the real `llms` command."""

from __future__ import annotations

import json

import pytest

from llms.app import build
from llms.config import ConfigError, load_config, load_text, parse_config
from llms.config.loader import default_config_text

from .gateway_proc import GatewayProcess, free_port


def ok_provider(**kw):
    return {"type": "OpenAiProvider", "base_url": "http://127.0.0.1:9", "models": {"a": "b"}, **kw}


@pytest.mark.parametrize(
    ("data", "where", "reason"),
    [
        ([], "", "expected an object, got an array"),
        ({}, "providers", "missing"),
        ({"providers": []}, "providers", "expected an object, got an array"),
        ({"providers": {"groq": "x"}}, "providers.groq", "expected an object, got a string"),
        ({"providers": {"groq": {"models": {}}}}, "providers.groq.type", "missing"),
        ({"providers": {"groq": ok_provider(models=["a"])}}, "providers.groq.models", "expected an object"),
        ({"providers": {"groq": ok_provider(models={"a": 1})}}, "providers.groq.models.a", "expected a string"),
        ({"providers": {"groq": ok_provider(enabled="yes")}}, "providers.groq.enabled", "expected true or false"),
        ({"providers": {"groq": ok_provider(base_url="api.groq.com")}}, "providers.groq.base_url", "http://"),
        ({"providers": {"groq": ok_provider(api_key=5)}}, "providers.groq.api_key", "expected a string"),
        ({"providers": {"groq": ok_provider(headers={"X": 1})}}, "providers.groq.headers.X", "expected a string"),
        ({"providers": {"g": ok_provider(timeouts={"idle": 0})}}, "providers.g.timeouts.idle", "above 0"),
        ({"providers": {"g": ok_provider(timeouts={"later": 1})}}, "providers.g.timeouts.later", "unknown timeout"),
        ({"limits": {"client_max_size": "big"}, "providers": {}}, "limits.client_max_size", "expected a number"),
        ({"defaults": {"headers": []}, "providers": {}}, "defaults.headers", "expected an object"),
    ],
)
def test_bad_values_name_the_path_and_reason(data, where, reason):
    with pytest.raises(ConfigError) as info:
        parse_config(data, "/etc/llms.json", env={})
    assert info.value.source == "/etc/llms.json"
    assert info.value.where == where
    assert reason in info.value.reason
    assert str(info.value).startswith("/etc/llms.json: ")


def test_bad_json_names_line_and_column():
    with pytest.raises(ConfigError) as info:
        load_text('{\n  "providers": {\n    "a": {,}\n  }\n}', "my.json")
    assert info.value.where == "line 3, column 11"
    assert "invalid JSON" in info.value.reason


def test_unknown_type_is_an_error_naming_it():
    config = parse_config({"providers": {"x": ok_provider(type="MadeUpProvider")}}, "f.json", env={})
    with pytest.raises(ConfigError) as info:
        build(config)
    assert info.value.where == "providers.x.type"
    assert "'MadeUpProvider'" in info.value.reason and "OpenAiProvider" in info.value.reason


def test_env_secrets_and_missing_keys():
    data = {
        "providers": {
            "a": ok_provider(api_key="$A_KEY"),
            "b": ok_provider(api_key="$B_KEY"),
            "c": ok_provider(api_key="literal-key"),
        }
    }
    config = parse_config(data, "f.json", env={"A_KEY": "sk-a"})
    a, b, c = config.providers.values()
    assert (a.api_key, a.missing_key) == ("sk-a", False)
    assert (b.api_key, b.api_key_env, b.missing_key) == (None, "B_KEY", True)
    assert (c.api_key, c.missing_key) == ("literal-key", False)
    gw = build(config)
    assert [p.name for p in gw.providers] == ["a", "c"]
    assert gw.notices == ["b: skipped, $B_KEY is not set"]


def test_params_headers_timeouts_and_limits():
    data = {
        "defaults": {"headers": {"User-Agent": "ua", "X-A": "default"}},
        "limits": {"client_max_size": 1000, "client_timeout": 30},
        "timeouts": {"connect": 1, "idle": 5},
        "auth": {"enabled": False},
        "convert": {},
        "something_new": 1,
        "providers": {
            "p": ok_provider(
                temperature=0.7,
                enable_thinking=False,
                headers={"X-A": "mine"},
                timeouts={"first_byte": 9},
                check={"messages": []},
                all_models=True,
            )
        },
    }
    config = parse_config(data, "f.json", env={})
    p = config.providers["p"]
    assert p.params == {"temperature": 0.7, "enable_thinking": False}
    assert p.headers == {"User-Agent": "ua", "X-A": "mine"}
    assert (p.timeouts.connect, p.timeouts.first_byte, p.timeouts.idle, p.timeouts.total) == (1, 9, 5, 30)
    assert p.extra == {"all_models": True}
    assert config.client_max_size == 1000
    assert config.ignored == ["something_new"]


def test_packaged_default_is_valid_and_every_provider_builds(monkeypatch):
    config = load_text(default_config_text(), "packaged")
    assert {"groq", "openrouter", "openai", "mistral", "deepseek", "codestral", "grok"} <= set(config.providers)
    for name, p in config.providers.items():
        if p.type == "OpenAiProvider":
            assert p.api_key_env and p.api_key_env.endswith("_API_KEY"), name
    assert config.default_model == "kimi-k2"
    monkeypatch.setenv("GROQ_API_KEY", "sk-test")
    gw = build(load_text(default_config_text(), "packaged"))
    assert "groq" in [p.name for p in gw.providers]


def test_home_and_packaged_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMS_HOME", str(tmp_path))
    assert load_config().source == "packaged default llms.json"
    (tmp_path / "llms.json").write_text(json.dumps({"providers": {}}))
    assert load_config().source == str(tmp_path / "llms.json")
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.json")


# -- the real command ----------------------------------------------------------------------------


def test_bad_config_fails_start_with_file_and_path(tmp_path):
    gw = GatewayProcess({"providers": {"groq": ok_provider(models=[])}})
    r = gw.run_cli("--serve", str(free_port()), "--config", str(gw.config_path))
    assert r.returncode == 2
    assert f"{gw.config_path}: providers.groq.models: expected an object, got an array" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_init_writes_default_once(tmp_path):
    gw = GatewayProcess({"providers": {}})
    target = gw.home / "llms.json"
    r = gw.run_cli("--init")
    assert r.returncode == 0 and target.exists()
    assert json.loads(target.read_text()) == json.loads(default_config_text())
    target.write_text('{"providers": {}}')
    r = gw.run_cli("--init")
    assert "kept the existing" in r.stdout
    assert target.read_text() == '{"providers": {}}'


def test_start_banner_notices_and_config_never_rewritten(upstream):
    config = {
        "providers": {
            "up": ok_provider(base_url=upstream.base_url("up"), models={"a": "b", "c": "d"}),
            "groq": ok_provider(api_key="$LLMS_TEST_NOT_SET"),
        }
    }
    gw = GatewayProcess(config, env={"VERBOSE": "1", "LLMS_TEST_NOT_SET": ""}, args=["--host", "0.0.0.0"])
    before = (gw.config_path.read_bytes(), gw.config_path.stat().st_mtime_ns)
    gw.start()
    try:
        import httpx

        r = httpx.post(
            gw.url + "/v1/chat/completions",
            timeout=10,
            json={"model": "a", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": "Bearer sk-client-secret"},
        )
        assert r.status_code == 200
    finally:
        assert gw.stop() == 0
    out = gw.output()
    assert "provider up: 2 models" in out
    assert "groq: skipped, $LLMS_TEST_NOT_SET is not set" in out
    assert f"API: http://localhost:{gw.port}/v1" in out and f"UI:  http://localhost:{gw.port}/" in out
    assert "warning: listening on 0.0.0.0 without client auth" in out
    # VERBOSE=1: one line for the request, without any key
    line = next(x for x in out.splitlines() if "model=a" in x)
    assert "provider=up" in line and "status=200" in line and "tokens=" in line
    assert "sk-client-secret" not in out
    assert (gw.config_path.read_bytes(), gw.config_path.stat().st_mtime_ns) == before
