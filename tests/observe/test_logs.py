"""The log formats: `json` is one parseable object per line with the request id, no message
can forge a line in either format, and a configured secret never reaches the output."""

from __future__ import annotations

import io
import json
import logging

import pytest

from llms.core.outbound import Outbound, current_outbound
from llms.observe.logs import REDACTED, install

SECRET = "sk-live-0123456789abcdef"


def logged(fmt: str, emit) -> list[str]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    listener, formatter = install(fmt, logging.INFO, out)
    formatter.set_secrets([SECRET, None, ""])
    try:
        emit(logging.getLogger("llms.test"))
    finally:
        listener.stop()
        logging.getLogger().handlers[:] = []
    return out.getvalue().splitlines()


def emit_all(log: logging.Logger) -> None:
    log.warning("outside a request")
    token = current_outbound.set(Outbound("req_abc"))
    try:
        log.info("req_abc model=%s status=%d", "chat", 200, extra={"fields": {"model": "chat", "status": 200}})
        log.warning("model=%s", "x\n2026-01-01 00:00:00,000 ERROR llms: forged\r\u2028!")
        log.error("upstream said: invalid key %s", SECRET)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("a bug")
    finally:
        current_outbound.reset(token)


def test_json_lines_parse_carry_the_request_id_and_no_secret() -> None:
    lines = logged("json", emit_all)
    assert len(lines) == 5
    objs = [json.loads(line) for line in lines]
    assert "request_id" not in objs[0] and objs[0]["message"] == "outside a request"
    assert all(o["request_id"] == "req_abc" for o in objs[1:])
    assert objs[1]["model"] == "chat" and objs[1]["status"] == 200 and objs[1]["level"] == "INFO"
    assert objs[1]["logger"] == "llms.test" and objs[1]["time"].endswith("Z")
    assert objs[2]["message"].startswith("model=x\n2026")  # intact inside its string, not a new line
    assert SECRET not in "\n".join(lines) and REDACTED in objs[3]["message"]
    assert "ValueError: boom" in objs[4]["message"]


def test_text_lines_cannot_be_forged_and_carry_the_request_id() -> None:
    lines = logged("text", emit_all)
    body = "\n".join(lines)
    assert SECRET not in body
    assert " llms.test: outside a request" in lines[0]
    assert "llms.test: req_abc model=chat status=200" in lines[1]  # the id is in the message already
    assert "llms.test: [req_abc] model=x\\n2026-01-01 00:00:00,000 ERROR llms: forged\\r\\u2028!" in lines[2]
    assert not any(line.startswith("2026-01-01 00:00:00,000 ERROR") for line in lines)
    assert "[req_abc] upstream said: invalid key " + REDACTED in lines[3]
    assert lines[4].endswith("[req_abc] a bug") and "ValueError: boom" in body  # a traceback keeps its lines


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        install("xml")
