"""Limits that hold while data flows (issue 10, item 6): the first-token, idle and request
budget timers fire however fast an upstream floods, and one SSE event and a non-streamed
body are capped. Real gateway process, real sockets; every flood stops by itself after
fake_upstream.FLOOD_SECONDS, so a regression fails a bound instead of hanging the run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from llms.config.schema import ConfigError, parse_config
from llms.core.deadline import Deadline
from llms.core.types import Timeouts
from llms.transport import UpstreamResponse

from .. import fake_upstream as fu
from ..gateway_proc import GatewayProcess

MSG = [{"role": "user", "content": "hi"}]
CAP = 1 << 20  # the test config's event and body cap


@pytest.fixture(scope="module")
def gateway(upstream: fu.FakeUpstream) -> Iterator[GatewayProcess]:
    def entry(name: str, first_byte: float = 1) -> dict:
        return {
            "type": "OpenAiProvider",
            "base_url": upstream.base_url(name),
            "api_key": f"sk-{name}-secret",
            "models": {"m": f"{name}-m", name: f"{name}-m"},
            "timeouts": {"connect": 2, "first_byte": first_byte, "idle": 10, "total": 60},
        }

    config = {
        "retries": 0,
        "breaker": False,
        "limits": {"upstream_body": CAP, "upstream_event": CAP},
        # `slow` waits long for a first token, so only the event cap can stop its flood.
        "providers": {"flood": entry("flood"), "slow": entry("slow", first_byte=30), "ok": entry("ok")},
    }
    gw = GatewayProcess(config).start()
    yield gw
    gw.stop()


def stream(gateway: GatewayProcess, model: str, **headers: str) -> tuple[int, list, float]:
    """Status, SSE events (or the error body) and seconds taken, reading everything."""
    start = time.monotonic()
    body = {"model": model, "messages": MSG, "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        raw = b"".join(r.iter_bytes())
    took = time.monotonic() - start
    if r.status_code != 200:
        return r.status_code, [orjson.loads(raw)], took
    events = [b[6:] for b in raw.split(b"\n\n") if b.startswith(b"data: ")]
    return 200, [e.decode() if e == b"[DONE]" else orjson.loads(e) for e in events], took


def test_comment_flood_gets_the_first_token_timeout(gateway, upstream):
    upstream.on("flood", "*", fu.comment_flood())
    status, [body], took = stream(gateway, "flood")
    assert status == 504, body
    assert "no first token within 1s" in body["error"]["message"]
    assert took < 1 + 5


def test_content_flood_stops_at_the_request_budget(gateway, upstream):
    upstream.on("flood", "*", fu.content_flood())
    status, events, took = stream(gateway, "flood", **{"x-llms-timeout": "2"})
    assert status == 200
    assert took < 2 + 5
    last = events[-1]
    assert isinstance(last, dict) and "error" in last, last  # in-band, never a clean [DONE]
    assert "time budget of 2s" in last["error"]["message"]


def test_content_flood_to_a_slow_reader_still_ends_in_band(gateway, upstream):
    # the gateway often waits on its write to this client when the budget runs out: the
    # expiry must still end the stream with the in-band error, not cut the connection
    upstream.on("flood", "*", fu.content_flood())
    body = {"model": "flood", "messages": MSG, "stream": True}
    start = time.monotonic()
    headers = {"x-llms-timeout": "2"}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        raw = b""
        for piece in r.iter_bytes(65536):
            raw += piece
            time.sleep(0.02)
    assert time.monotonic() - start < 2 + 8
    last = [b for b in raw.split(b"\n\n") if b.startswith(b"data: ")][-1]
    assert b"time budget of 2s" in last, last[:200]


def test_endless_event_is_a_protocol_error_before_the_commit_point(gateway, upstream):
    upstream.on("slow", "*", fu.endless_event(max_bytes=8 * CAP))
    status, [body], took = stream(gateway, "slow")
    assert status == 502, body
    assert "an SSE event is over 1 MiB" in body["error"]["message"]
    assert took < 10


def test_endless_event_after_the_commit_point_is_an_in_band_error(gateway, upstream):
    upstream.on("slow", "*", fu.endless_event(max_bytes=8 * CAP, content_first=True))
    status, events, _ = stream(gateway, "slow")
    assert status == 200
    assert events[0]["choices"][0]["delta"]["content"] == "Hi"
    assert "an SSE event is over 1 MiB" in events[-1]["error"]["message"]


def test_endless_event_fails_over_to_the_next_provider(gateway, upstream):
    upstream.on("flood", "*", fu.endless_event(max_bytes=8 * CAP))
    upstream.on("slow", "*", fu.endless_event(max_bytes=8 * CAP))
    upstream.on("ok", "*", fu.stream(["fine"]))
    status, events, took = stream(gateway, "m")
    assert status == 200, events
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"]) == "fine"
    assert took < 10


def test_huge_body_is_a_protocol_error_and_fails_over(gateway, upstream):
    upstream.on("flood", "*", fu.huge_body(3 * CAP))
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "m", "messages": MSG}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["x-llms-tried"].startswith("flood,")
    assert r.headers["x-llms-provider"] != "flood"


def test_huge_body_alone_names_the_cap(gateway, upstream):
    upstream.on("flood", "*", fu.huge_body(3 * CAP))
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "flood", "messages": MSG}, timeout=30)
    assert r.status_code == 502
    assert "the answer is over 1 MiB" in r.json()["error"]["message"]


def test_a_body_under_the_cap_still_works(gateway, upstream):
    upstream.on("flood", "*", fu.huge_body(CAP // 2))
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "flood", "messages": MSG}, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("key", ["upstream_body", "upstream_event"])
def test_the_caps_are_config_with_path_named_errors(key):
    base = {"providers": {"p": {"type": "OpenAiProvider", "base_url": "http://127.0.0.1:1", "models": {"m": "m"}}}}
    provider = parse_config({**base, "limits": {key: 1234}}, "llms.json").providers["p"]
    assert getattr(provider, "max_" + key.removeprefix("upstream_")) == 1234
    with pytest.raises(ConfigError, match=f"limits.{key}: expected a number"):
        parse_config({**base, "limits": {key: "big"}}, "llms.json")


class _Flood:
    """An aiohttp response whose body always has more data after one turn of the loop: the
    shape of a flood that wakes the reading task in the same loop turn as the expiry."""

    status = 200
    headers: dict = {}
    content_length = None

    def __init__(self, piece: bytes) -> None:
        self.content = self
        self.piece = piece
        self.error: BaseException | None = None

    def is_eof(self) -> bool:
        return False

    def set_exception(self, error: BaseException) -> None:
        self.error = error

    async def readany(self) -> bytes:
        if self.error is not None:
            raise self.error
        await asyncio.sleep(0)
        return self.piece


@pytest.mark.parametrize("why", ["total", "first_token", "idle_read"])
async def test_the_lazy_timer_fires_under_a_flood(why):
    """The transport alone, deterministic: each loop turn the task wakes with data before
    the expiry callback runs. The expiry must still win (it once lost every turn)."""
    loop = asyncio.get_running_loop()
    clock = Deadline(loop.time() + 60, 60)
    if why == "first_token":
        clock.first_token_seconds, clock.first_token_by = 0.3, loop.time() + 0.3
    total_at = loop.time() + (0.3 if why != "first_token" else 60)
    timeouts = Timeouts(connect=1, first_byte=30, idle=30, total=60)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(5):  # the guard: a broken timer ends here, after 5 s
            async with asyncio.timeout_at(loop.time() + 30) as deadline:
                r = UpstreamResponse(_Flood(b": ping\n\n"), deadline, total_at, 2, clock, "p", timeouts, loop)
                if why == "idle_read":
                    await r.read(limit=1 << 40)
                async for _ in r.iter_chunks():
                    pass
    assert time.monotonic() - start < 2
