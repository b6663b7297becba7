"""The shutdown deadline ends a Messages stream and a Responses stream in-band, each in its own
API's error event (the stream driver asks the codec's encoder), and the gateway exits 0."""

from __future__ import annotations

import signal
import threading

import anthropic
import openai

from ..fake_upstream import stream
from ..gateway_proc import GatewayProcess


def test_shutdown_deadline_ends_both_streams_in_band(upstream):
    models = {"slow": "up-slow"}
    config = {
        "shutdown": {"grace": 1},
        "retries": 0,
        "providers": {"p": {"type": "OpenAiProvider", "base_url": upstream.base_url("p"), "models": models}},
    }
    upstream.on("p", "up-slow", stream(pieces=["one ", "two ", "three ", "four "], delay=1.5))
    gw = GatewayProcess(config, env={"LLMS_DATABASE_URL": ""}).start()
    started = threading.Barrier(3, timeout=20)
    got: dict[str, object] = {}

    def messages() -> None:
        client = anthropic.Anthropic(api_key="unused", base_url=gw.url, max_retries=0)
        try:
            with client.messages.stream(model="slow", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as s:
                for i, _ in enumerate(s.text_stream):
                    if i == 0:
                        started.wait()
        except anthropic.APIStatusError as e:
            got["messages"] = e.body
        else:
            got["messages"] = "a clean end"

    def responses() -> None:
        client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
        events = []
        for e in client.responses.create(model="slow", input="x", stream=True):
            events.append(e)
            if e.type == "response.output_text.delta" and len(events) < 6:
                started.wait()
        got["responses"] = events

    threads = [threading.Thread(target=messages), threading.Thread(target=responses)]
    for t in threads:
        t.start()
    try:
        started.wait()
        gw.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(20)
        assert gw.proc.wait(15) == 0
    finally:
        gw.stop()
    assert got["messages"] == {
        "type": "error",
        "error": {"type": "api_error", "message": "The gateway stopped before the answer was complete (shutting down)"},
    }
    events = got["responses"]
    assert [e.type for e in events][-2:] == ["error", "response.failed"]  # type: ignore[union-attr]
    assert events[-2].code == "shutting_down"  # type: ignore[index]
