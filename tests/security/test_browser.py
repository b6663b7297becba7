"""Origins in a real browser (Debian's chromium through Playwright, as in tests/ui): the
gateway's own chat UI still works, and a page on a foreign host name (`evil.test`, mapped to
127.0.0.1 by Chromium's host resolver rules, so its origin is not a loopback one) that sends
the no-preflight `no-cors` text/plain POST reaches nothing upstream."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from aiohttp import web

from ..fake_upstream import FakeUpstream, LoopbackServer, stream
from ..gateway_proc import GatewayProcess
from ..ui.conftest import CHROMIUM, CHROMIUM_ARGS, ui_config
from ..ui.helpers import last_call, last_reply, send, wait_done

pytest.importorskip("playwright")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

PAGE = b"<!doctype html><html><head><meta charset=utf-8><title>evil</title></head><body>a page</body></html>"
ATTACK = """async (url) => {
  const body = JSON.stringify({model: "chat", messages: [{role: "user", content: "spend their key"}]});
  const r = await fetch(url, {mode: "no-cors", method: "POST", headers: {"Content-Type": "text/plain"}, body});
  return r.type;
}"""


class PageServer(LoopbackServer):
    """The attacker's site: one HTML page, on its own loopback port."""

    thread_name = "evil-page"

    def add_routes(self, app: web.Application) -> None:
        async def page(request: web.Request) -> web.Response:
            return web.Response(body=PAGE, content_type="text/html")

        app.router.add_get("/", page)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM}: run scripts/setup.d/20-chromium.sh (apt-get install chromium)")
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.test 127.0.0.1"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def ui_gw(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(ui_config(upstream)).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def evil_site() -> Iterator[PageServer]:
    site = PageServer().start()
    yield site
    site.stop()


def test_the_gateways_own_chat_ui_still_works(browser, ui_gw: GatewayProcess, upstream: FakeUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.on("alpha", "a-chat", stream(["Still ", "works."]))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(ui_gw.url + "/")
        page.wait_for_selector("html.ready", timeout=20_000)
        send(page, "hello")
        wait_done(page)
        expect(last_reply(page).locator(".content")).to_contain_text("Still works.")
        assert last_call(upstream, "alpha").body["messages"][-1]["content"] == "hello"
    finally:
        context.close()


def test_a_foreign_page_cannot_spend_the_keys(  # type: ignore[no-untyped-def]
    browser, ui_gw: GatewayProcess, upstream: FakeUpstream, evil_site: PageServer
) -> None:
    context = browser.new_context()
    seen: list[int] = []
    try:
        page = context.new_page()
        page.on("response", lambda r: seen.append(r.status) if "/chat/completions" in r.url else None)
        page.goto(f"http://evil.test:{evil_site.port}/")
        assert page.evaluate("location.hostname") == "evil.test"
        for target in (f"http://127.0.0.1:{ui_gw.port}", f"http://localhost:{ui_gw.port}"):
            for path in ("/v1/chat/completions", "/chat/completions"):
                assert page.evaluate(ATTACK, target + path) == "opaque"  # the request was sent
        end = time.monotonic() + 5
        while len(seen) < 4 and time.monotonic() < end:
            page.wait_for_timeout(50)
    finally:
        context.close()
    assert seen == [403, 403, 403, 403]
    assert upstream.received() == []
