"""The HTTP edge on real sockets: slow clients are cut off (head, body, reading the answer),
malformed input gets a 4xx in OpenAI's envelope (never a 500 or aiohttp's plain text), log
lines cannot be forged, the UI's HTML always carries the CSP, and no version is advertised."""

from __future__ import annotations

import gzip
import time
import zlib

import orjson
import pytest

from ..fake_upstream import FakeUpstream, reply
from ..gateway_proc import GatewayProcess
from .conftest import BODY_TIMEOUT, CHAT, HEADER_TIMEOUT, WRITE_TIMEOUT, envelope, raw_connection, read_all, request


def test_a_slowloris_head_is_cut_off_within_the_header_timeout(edge_gateway: GatewayProcess) -> None:
    """One header byte every 0.4 s never completes the head: the connection ends within the
    header timeout (plus slack), not aiohttp's hour-long keep-alive time."""
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    sock = raw_connection(edge_gateway, timeout=0.4)
    start = time.monotonic()
    closed = False
    try:
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            try:
                if sock.recv(4096) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = True
                break
            if time.monotonic() - start > HEADER_TIMEOUT + 5:
                break
    finally:
        sock.close()
    assert closed, "the gateway kept a never-ending request head open"
    assert time.monotonic() - start < HEADER_TIMEOUT + 5


def test_a_silent_connection_is_closed_within_the_header_timeout(edge_gateway: GatewayProcess) -> None:
    sock = raw_connection(edge_gateway, timeout=HEADER_TIMEOUT + 5)
    start = time.monotonic()
    try:
        data = read_all(sock)
    finally:
        sock.close()
    assert time.monotonic() - start < HEADER_TIMEOUT + 4
    assert data == b"" or data.startswith(b"HTTP/1.1 408")


def test_a_keep_alive_connection_still_works_after_the_header_timeout(edge_gateway: GatewayProcess) -> None:
    """The head timer covers a head in progress, not the time a finished request took."""
    sock = raw_connection(edge_gateway, timeout=10)
    try:
        body = orjson.dumps(CHAT)
        req = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        sock.sendall(req)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
    finally:
        sock.close()


def test_a_slow_body_gets_a_408_within_the_body_timeout(edge_gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    body = orjson.dumps(CHAT)
    sock = raw_connection(edge_gateway, timeout=0.3)
    start = time.monotonic()
    got = b""
    try:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
                got += sock.recv(65536)
            except TimeoutError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
            if got or time.monotonic() - start > BODY_TIMEOUT + 5:
                break
    finally:
        sock.close()
    assert got.startswith(b"HTTP/1.1 408"), got
    assert time.monotonic() - start < BODY_TIMEOUT + 5
    assert upstream.received() == []


def test_a_client_that_reads_nothing_is_cut_off_after_the_write_timeout(
    edge_gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    """A large non-streamed answer to a client that never reads: the gateway gives up after
    the write timeout and closes, instead of holding the request (and its memory) forever."""
    text = "x" * (16 * 1024 * 1024)
    upstream.on("primary", "p-chat", reply(text))
    sock = raw_connection(edge_gateway, timeout=WRITE_TIMEOUT + 20)
    sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
    body = orjson.dumps(CHAT)
    try:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert upstream.wait_for(lambda: upstream.received("primary"), timeout=10)
        time.sleep(WRITE_TIMEOUT + 4)  # read nothing for longer than the write timeout
        data = read_all(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert len(data) < len(text), "the whole answer was still waiting: the slow client was never cut off"
    assert "cut off" in edge_gateway.output()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"\x1f\x8b\x08\x00not gzip at all"),
        ("gzip", gzip.compress(orjson.dumps(CHAT))[:-12]),  # truncated
        ("deflate", b"definitely not deflate"),
        ("br", b"\x00\x01\x02 not brotli"),
    ],
)
def test_a_malformed_compressed_body_is_a_400(
    edge_gateway: GatewayProcess, upstream: FakeUpstream, encoding: str, body: bytes
) -> None:
    mark = len(edge_gateway.output())
    status, _, data = request(
        edge_gateway,
        "POST",
        "/v1/chat/completions",
        body,
        {"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    assert 400 <= status < 500, (status, data)
    envelope(data)
    assert upstream.received() == []
    assert "Traceback" not in edge_gateway.output()[mark:]


def test_a_well_formed_compressed_body_is_served(edge_gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    for encoding, data in [("gzip", gzip.compress(orjson.dumps(CHAT))), ("deflate", zlib.compress(orjson.dumps(CHAT)))]:
        status, _, body = request(edge_gateway, "POST", "/v1/chat/completions", data, {"Content-Encoding": encoding})
        assert status == 200, body


@pytest.mark.parametrize("path", ["/ui/%00", "/ui/app%00.js", "/ui/js/%00/x.js", "/ui/a%01b.css"])
def test_a_control_character_in_a_ui_path_is_a_404(edge_gateway: GatewayProcess, path: str) -> None:
    mark = len(edge_gateway.output())
    status, _, body = request(edge_gateway, "GET", path)
    assert status == 404, body
    assert "Traceback" not in edge_gateway.output()[mark:]


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_an_http_parser_error_is_answered_in_the_openai_envelope(edge_gateway: GatewayProcess, raw: bytes) -> None:
    mark = len(edge_gateway.output())
    sock = raw_connection(edge_gateway, timeout=5)
    try:
        sock.sendall(raw)
        data = read_all(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b" ")[1].startswith(b"4"), data[:300]
    assert b"application/json" in head, head
    assert b"aiohttp" not in head.lower()
    err = envelope(body)
    assert err["type"] == "invalid_request_error"
    assert "Traceback" not in edge_gateway.output()[mark:]


def test_control_characters_in_logged_fields_are_escaped(edge_gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    forged = "2026-01-01 00:00:00,000 WARNING llms: FORGED LINE"
    model = "nosuch\n" + forged + "\r\x1b[31m"
    status, _, _ = request(
        edge_gateway, "POST", "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "x"}]}
    )
    assert status == 404

    def logged() -> bool:
        return "FORGED LINE" in edge_gateway.output()

    end = time.monotonic() + 5
    while not logged() and time.monotonic() < end:
        time.sleep(0.05)
    out = edge_gateway.output()
    assert "nosuch\\n2026-01-01" in out
    assert not any(line.startswith(forged) for line in out.splitlines())
    assert "\x1b" not in out


def test_ui_html_carries_the_csp_wherever_it_is_served(edge_gateway: GatewayProcess) -> None:
    for path in ["/", "/ui/index.html"]:
        status, headers, _ = request(edge_gateway, "GET", path)
        assert status == 200
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "default-src 'self'" in headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/health", "/v1/models", "/nope", "/ui/index.html"])
def test_the_server_header_advertises_no_version(edge_gateway: GatewayProcess, path: str) -> None:
    _, headers, _ = request(edge_gateway, "GET", path)
    assert headers["server"] == "llms"
