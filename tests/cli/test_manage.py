"""`llms ls`, `llms --check`, and the only writers of llms.json: `--enable`, `--disable`,
`--default` (bytes outside the changed value stay identical; written atomically)."""

from __future__ import annotations

import json
from pathlib import Path

from ..fake_upstream import FakeUpstream, error, hang, reply
from .conftest import Run


def test_ls_lists_enabled_models_with_prices_and_why_others_are_off(llms: Run, config_path: Path):
    r = llms("ls")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "primary (OpenAiProvider): 3 models"
    assert lines[1].split() == ["chat", "p-chat", "$1", "in", "/", "$2", "out", "per", "1M", "tokens"]
    assert "nokey: skipped, set $LLMS_TEST_UNSET_KEY to use it" in lines
    assert "secondary (OpenAiProvider): 3 models" in lines
    assert "off: disabled (llms --enable off)" in lines
    assert lines[-1] == f"config: {config_path}"
    assert llms("--list").stdout == r.stdout


def test_ls_named_providers(llms: Run):
    r = llms("ls", "secondary", "off")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == "secondary (OpenAiProvider): 3 models"
    assert "primary" not in r.stdout and "off: disabled" in r.stdout
    bad = llms("ls", "nosuch")
    assert bad.returncode == 2 and "unknown provider nosuch" in bad.stderr


def test_check_marks_each_model_and_exits_with_the_failures(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", reply("2"))
    upstream.on("primary", "shared", error(401, "Invalid API Key", type="invalid_request_error"))
    upstream.on("primary", "p-only", reply("2"))
    r = llms("--check", "primary")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "checking 3 models of primary:"
    assert lines[1].split()[:2] == ["✓", "chat"] and lines[1].split()[3] == "ms"
    assert lines[2].split()[:2] == ["✗", "shared"] and lines[2].endswith("HTTP 401: Invalid API Key")
    assert lines[3].split()[:2] == ["✓", "primary-only"]
    body = upstream.received("primary")[0].body
    assert body["messages"] == [{"role": "user", "content": "1+1="}] and body["max_completion_tokens"] == 16
    assert body["stream"] is False


def test_check_named_models_and_timeouts(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", hang(30))
    upstream.on("primary", "p-only", error(500, "boom"))
    r = llms("--check", "primary", "chat", "primary-only")
    assert r.returncode == 2
    assert "✗ chat" in r.stdout and "✗ primary-only" in r.stdout and "boom" in r.stdout
    assert [c.model for c in upstream.received("primary")] == ["p-chat", "p-only"]


def test_check_of_a_provider_not_in_use(llms: Run):
    r = llms("--check", "nokey")
    assert r.returncode == 2 and "set $LLMS_TEST_UNSET_KEY" in r.stderr
    r = llms("--check", "primary", "no-such-model")
    assert r.returncode == 2 and "no model no-such-model" in r.stderr


# -- writing llms.json ---------------------------------------------------------------------------

ODD = """{
    "my_own_key": {"keep": [1, 2,   3]},
    "defaults":   {"text": {"temperature": 0.5,"model": "chat"}},
    "providers": {
        "primary": {"type": "OpenAiProvider", "base_url": "BASE/primary", "api_key": "k",
                    "models": {"chat": "p-chat", "other": "p-other"}, "x-unknown": "\\u00e9t\\u00e9"},
        "off": {
          "enabled"  :  false,
          "type": "OpenAiProvider", "base_url": "BASE/off", "models": {"offm": "o"}
        }
    }
}"""  # no final newline, odd spacing, an escape sequence and keys llms does not know


def write_odd(path: Path, upstream: FakeUpstream) -> str:
    text = ODD.replace("BASE/", upstream.base_url("x")[:-1])
    path.write_bytes(text.encode())
    return text


def changed_span(before: str, after: str) -> tuple[str, str]:
    """What differs between two texts once the common prefix and suffix are cut off."""
    i = 0
    while i < min(len(before), len(after)) and before[i] == after[i]:
        i += 1
    j = 0
    while j < min(len(before), len(after)) - i and before[-1 - j] == after[-1 - j]:
        j += 1
    return before[i : len(before) - j], after[i : len(after) - j]


def test_disable_and_enable_change_only_that_value(llms: Run, config_path: Path, upstream: FakeUpstream):
    before = write_odd(config_path, upstream)
    r = llms("--enable", "off")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"enabled off in {config_path}"
    after = config_path.read_bytes().decode()
    assert changed_span(before, after) == ("fals", "tru")  # every other byte is identical
    assert json.loads(after)["providers"]["off"]["enabled"] is True
    assert sorted(p.name for p in config_path.parent.iterdir() if p.name.startswith(".")) == []  # no temp file left

    r = llms("--disable", "primary")
    assert r.returncode == 0
    again = config_path.read_bytes().decode()
    # a missing key is added first in its object, the rest untouched
    assert again == after.replace('"primary": {"type"', '"primary": {"enabled": false, "type"', 1)
    assert json.loads(again)["providers"]["primary"]["enabled"] is False
    assert "my_own_key" in again and '"\\u00e9t\\u00e9"' in again


def test_default_model(llms: Run, config_path: Path, upstream: FakeUpstream):
    before = write_odd(config_path, upstream)
    r = llms("--default", "other")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"default model set to other in {config_path}"
    assert changed_span(before, config_path.read_text()) == ("chat", "other")
    bad = llms("--default", "no-such-model")
    assert bad.returncode == 2 and "no-such-model" in bad.stderr
    unknown = llms("--enable", "nosuch")
    assert unknown.returncode == 2 and "no provider nosuch" in unknown.stderr
    assert changed_span(before, config_path.read_text()) == ("chat", "other")  # the failures wrote nothing


def test_edits_without_a_home_file_start_from_the_packaged_default(tmp_path: Path):
    import os
    import subprocess
    import sys

    from .conftest import cli_env

    env = cli_env(tmp_path / "home")
    r = subprocess.run([sys.executable, "-m", "llms", "--disable", "groq"], env=env, input="",
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    path = tmp_path / "home" / "llms.json"
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"created {path} from the packaged default", f"disabled groq in {path}"]
    assert json.loads(path.read_text())["providers"]["groq"]["enabled"] is False
    assert os.stat(path).st_size > 1000
