"""The round-trip JSON editor behind --enable/--disable/--default: one value changes, every
other character stays."""

from __future__ import annotations

import json
import os
import stat

import pytest

from llms.cli.jsonedit import JsonText, read, write_atomically


@pytest.mark.parametrize(
    "text",
    [
        '{"a": {"b": 1}, "c": [1, {"b": 2}], "d": "x\\"y"}',
        '{\r\n\t"a" : {\r\n\t\t"b" :1\r\n\t},\r\n\t"c":[ ],\r\n\t"d":"\\u00e9"\r\n}\r\n',
        '  {"a":{"b":true},"c":[[],[{}]],"d":null}  \n\n',
    ],
)
def test_replacing_a_value_changes_only_its_span(text):
    doc = JsonText(text)
    doc.set(["a", "b"], "new")
    start = text.index("b") + text[text.index("b") :].index(":") + 1
    while text[start] in " \t":
        start += 1
    old_value = json.dumps(json.loads(text)["a"]["b"])
    assert doc.text == text[:start] + '"new"' + text[start + len(old_value) :]
    assert json.loads(doc.text)["a"]["b"] == "new"


def test_adding_keys_and_nested_objects():
    text = '{\n  "providers": {\n    "p": {\n      "type": "X"\n    }\n  }\n}'
    doc = JsonText(text)
    doc.set(["providers", "p", "enabled"], True)
    assert doc.text == '{\n  "providers": {\n    "p": {\n      "enabled": true,\n      "type": "X"\n    }\n  }\n}'
    doc.set(["defaults", "text", "model"], "m")
    assert json.loads(doc.text)["defaults"] == {"text": {"model": "m"}}
    assert doc.text.startswith('{\n  "defaults": {"text": {"model": "m"}},\n  "providers"')
    empty = JsonText("{}")
    empty.set(["a"], 1)
    assert empty.text == '{"a": 1}'


def test_non_ascii_is_written_as_is_and_errors_are_clear():
    doc = JsonText('{"a": "x"}')
    doc.set(["a"], "été")
    assert doc.text == '{"a": "été"}'
    with pytest.raises(ValueError, match="line 1"):
        JsonText('{"a": }')
    with pytest.raises(ValueError, match="not an object"):
        JsonText('{"a": [1]}').set(["a", "b"], 1)


def test_atomic_write_keeps_mode_and_line_endings(tmp_path):
    path = tmp_path / "llms.json"
    path.write_bytes(b'{\r\n  "a": 1\r\n}')
    os.chmod(path, 0o600)
    doc = read(path)
    doc.set(["a"], 2)
    write_atomically(path, doc.text)
    assert path.read_bytes() == b'{\r\n  "a": 2\r\n}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["llms.json"]
