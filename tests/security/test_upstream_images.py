"""`fetch_image_urls` without SSRF (issue 10, item 7): only public addresses unless allowed,
no redirects, no decompression, a streamed read cut at 20 MiB, a bounded number of images,
each fetched once per request, and errors that say which image, never what the network
answered. A second loopback server plays the image host (and records every request)."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from llms.providers.base import ProviderConfigInvalid
from llms.providers.images import FetchPolicy, parse_policy

from .. import fake_upstream as fu
from ..gateway_proc import GatewayProcess

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00pixels" * 100


def anthropic_reply(status: int = 200) -> fu.Handler:
    async def handle(call: fu.Call) -> web.StreamResponse:
        if status != 200:
            error = {"type": "error", "error": {"type": "api_error", "message": "down"}}
            return web.json_response(error, status=status)
        text = {"type": "text", "text": "a cat"}
        usage = {"input_tokens": 1, "output_tokens": 2}
        body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [text],
                "stop_reason": "end_turn", "usage": usage}  # fmt: skip
        return web.json_response(body)

    return handle


def image(body: bytes = PNG, content_type: str = "image/png", **headers: str) -> fu.Handler:
    async def handle(call: fu.Call) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": content_type, **headers})

    return handle


def chunked_image(size: int) -> fu.Handler:
    """An image without Content-Length, streamed out in pieces (only a streamed cap stops it)."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        await resp.prepare(call.request)
        for _ in range(size // 65536):
            await resp.write(b"\x00" * 65536)
        return resp

    return handle


@pytest.fixture(scope="module")
def images() -> Iterator[fu.FakeUpstream]:
    server = fu.FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean_images(images: fu.FakeUpstream) -> Iterator[None]:
    yield
    images.reset()


@pytest.fixture(scope="module")
def gateway(upstream: fu.FakeUpstream) -> Iterator[GatewayProcess]:
    def entry(name: str, fetch: object, models: dict) -> dict:
        return {
            "type": "AnthropicProvider",
            "base_url": upstream.base_url(name),
            "api_key": "k",
            "models": models,
            "fetch_image_urls": fetch,
        }

    allow = {"allow_hosts": ["127.0.0.1"], "max_images": 3}
    config = {
        "retries": 0,
        "breaker": False,
        "providers": {
            "strict": entry("strict", True, {"strict": "s"}),
            "open": entry("open", allow, {"open": "o", "pair": "o"}),
            "open2": entry("open2", allow, {"pair": "o2"}),
        },
    }
    gw = GatewayProcess(config).start()
    yield gw
    gw.stop()


def ask(gateway: GatewayProcess, model: str, *urls: str) -> httpx.Response:
    parts = [{"type": "text", "text": "what is it?"}] + [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    body = {"model": model, "messages": [{"role": "user", "content": parts}]}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)


def sent_images(call: fu.Call) -> list[bytes]:
    blocks = call.body["messages"][0]["content"]
    return [base64.b64decode(b["source"]["data"]) for b in blocks if b.get("type") == "image"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"])
def test_a_loopback_target_is_refused_and_never_contacted(gateway, upstream, images, host):
    images.on("img", "*", image())
    r = ask(gateway, "strict", f"http://{host}:{images.port}/img/cat.png")
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message == "cannot fetch image 1"  # no address, no port, no socket error
    assert images.received() == []
    assert upstream.received("strict") == []


def test_an_allowed_host_is_fetched_and_inlined(gateway, upstream, images):
    images.on("img", "*", image())
    upstream.on("open", "*", anthropic_reply())
    r = ask(gateway, "open", f"http://127.0.0.1:{images.port}/img/cat.png")
    assert r.status_code == 200, r.text
    [call] = upstream.received("open")
    assert sent_images(call) == [PNG]


def test_the_number_names_the_failing_image(gateway, upstream, images):
    images.on("img", "*", image())
    upstream.on("open", "*", anthropic_reply())
    good = f"http://127.0.0.1:{images.port}/img/cat.png"
    r = ask(gateway, "open", good, "http://127.0.0.1:1/nothing-listens-here.png")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "cannot fetch image 2"


def test_a_redirect_is_not_followed(gateway, upstream, images):
    images.on("img", "*", fu.redirect(f"http://127.0.0.1:{images.port}/elsewhere/cat.png", 302))
    images.on("elsewhere", "*", image())
    r = ask(gateway, "open", f"http://127.0.0.1:{images.port}/img/cat.png")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "cannot fetch image 1"
    assert [c.provider for c in images.received()] == ["img"]


def test_a_streamed_image_is_cut_at_20_mib(gateway, upstream, images):
    images.on("img", "*", chunked_image(21 << 20))
    r = ask(gateway, "open", f"http://127.0.0.1:{images.port}/img/big.png")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "image 1 is over 20 MiB"
    assert upstream.received("open") == []


def test_a_compressed_answer_is_not_decompressed(gateway, upstream, images):
    images.on("img", "*", image(gzip.compress(PNG), **{"Content-Encoding": "gzip"}))
    r = ask(gateway, "open", f"http://127.0.0.1:{images.port}/img/cat.png")
    assert r.status_code == 400
    assert "image 1" in r.json()["error"]["message"]
    assert upstream.received("open") == []


def test_not_an_image_is_refused(gateway, upstream, images):
    images.on("img", "*", image(b"<html>", "text/html"))
    r = ask(gateway, "open", f"http://127.0.0.1:{images.port}/img/page")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "image 1 is not an image (text/html)"


def test_too_many_images_are_refused_before_any_fetch(gateway, upstream, images):
    images.on("img", "*", image())
    urls = [f"http://127.0.0.1:{images.port}/img/{i}.png" for i in range(4)]
    r = ask(gateway, "open", *urls)
    assert r.status_code == 400
    assert "at most 3" in r.json()["error"]["message"]
    assert images.received() == []


def test_each_image_is_fetched_once_per_request_across_failover(gateway, upstream, images):
    images.on("img", "*", image())
    upstream.on("open", "*", anthropic_reply(500))
    upstream.on("open2", "*", anthropic_reply())
    r = ask(gateway, "pair", f"http://127.0.0.1:{images.port}/img/cat.png")
    assert r.status_code == 200, r.text
    assert r.headers["x-llms-tried"] == "open,open2"
    assert len(images.received()) == 1
    assert sent_images(upstream.received("open")[0]) == sent_images(upstream.received("open2")[0]) == [PNG]
    # a new request fetches anew (the cache lives as long as one request)
    ask(gateway, "pair", f"http://127.0.0.1:{images.port}/img/cat.png")
    assert len(images.received()) == 2


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:10.0.0.1"],
)  # fmt: skip
def test_policy_refuses_non_public_addresses(address):
    assert not FetchPolicy().allows("example.com", address)


def test_policy_allows_public_addresses_and_listed_ones():
    assert FetchPolicy().allows("example.com", "93.184.215.14")
    assert FetchPolicy().allows("example.com", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    policy = parse_policy({"allow_hosts": ["images.internal", "10.1.0.0/16"]})
    assert policy is not None
    assert policy.allows("images.internal", "10.9.9.9")
    assert policy.allows("other", "10.1.2.3")
    assert not policy.allows("other", "10.2.0.1")


@pytest.mark.parametrize(
    "value", ["yes", {"allow": []}, {"allow_hosts": "127.0.0.1"}, {"max_images": 0}, {"max_images": True}]
)
def test_policy_config_errors_name_the_key(value):
    with pytest.raises(ProviderConfigInvalid) as caught:
        parse_policy(value)
    assert caught.value.key == "fetch_image_urls"
