"""Small pure parts: request-id acceptance, the overhead definition, the `telemetry` config."""

from __future__ import annotations

import pytest

from llms.config import ConfigError, parse_config
from llms.core.overhead import overhead_seconds
from llms.server import request_id
from llms.server.request_id import RequestIds, accept_request_id


@pytest.mark.parametrize(
    "sent", ["abc", "req_0123", "7f1c2b9e-4a4d-4a8e-9d9e-0c1f2a3b4c5d", "a" * 128, "trace:1/2+3=4.5_6-7"]
)
def test_a_safe_client_id_is_kept(sent: str) -> None:
    assert accept_request_id(sent) == sent


@pytest.mark.parametrize(
    "sent", [None, "", "a" * 129, "has space", "line\nbreak", "tab\t", 'quote"', "ünï", "semi;colon", "\x00"]
)
def test_an_unsafe_client_id_is_replaced(sent: str | None) -> None:
    got = accept_request_id(sent)
    assert got != sent and got.startswith("req_") and len(got) == 36


def test_a_reused_client_id_gets_a_suffix_so_each_try_keeps_its_record(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = RequestIds()
    assert [ids.accept("abc"), ids.accept("abc"), ids.accept("abc"), ids.accept("xyz")] == [
        "abc", "abc.2", "abc.3", "xyz"
    ]  # fmt: skip
    assert ids.accept(None).startswith("req_") and ids.accept("bad id").startswith("req_")
    monkeypatch.setattr(request_id, "RECENT", 2)
    small = RequestIds()
    for i in ("a", "b", "c"):  # "a" is forgotten once three are remembered
        small.accept(i)
    assert (small.accept("a"), small.accept("c")) == ("a", "c.2")


def test_overhead_is_elapsed_less_the_attempts() -> None:
    assert overhead_seconds(1.0, [{"seconds": 0.25}, {"seconds": 0.7}]) == pytest.approx(0.05)
    assert overhead_seconds(0.1, [{"seconds": 0.2}]) == 0.0  # never negative
    assert overhead_seconds(0.003, []) == 0.003


def _config(telemetry: object) -> object:
    return parse_config({"providers": {}, "telemetry": telemetry}, "llms.json", {})


def test_telemetry_settings() -> None:
    assert parse_config({"providers": {}}, "x", {}).telemetry.metrics is True  # type: ignore[attr-defined]
    off = _config(False).telemetry  # type: ignore[attr-defined]
    assert (off.metrics, off.traces) == (False, False)
    on = _config({"otlp_endpoint": "http://localhost:4318", "metrics": False}).telemetry  # type: ignore[attr-defined]
    assert (on.metrics, on.otlp_endpoint) == (False, "http://localhost:4318")


@pytest.mark.parametrize(
    ("telemetry", "where"),
    [
        ({"metric": True}, "telemetry.metric"),
        ({"metrics": "yes"}, "telemetry.metrics"),
        ({"otlp_endpoint": "localhost:4318"}, "telemetry.otlp_endpoint"),
        ([], "telemetry"),
    ],
)
def test_bad_telemetry_names_the_field(telemetry: object, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        _config(telemetry)
    assert e.value.where == where
