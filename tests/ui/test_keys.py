"""The chat page with client keys required (`auth.required`), in Debian's chromium: it asks for
a key once, keeps it in the browser (localStorage), sends it with every API request, and does
not ask again after a reload; a refused key is asked for again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from ..fake_upstream import FakeUpstream, stream
from ..gateway_proc import GatewayProcess
from ..keys.gateway_keys import ADMIN_KEY, ENV, admin, create_key
from .conftest import DESKTOP, Session, ui_config
from .helpers import last_call, last_reply, send, wait_done


@pytest.fixture(scope="module")
def keyed_gateway(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    config = {**ui_config(upstream), "auth": {"required": True, "admin_key": "$LLMS_ADMIN_KEY"}}
    gw = GatewayProcess(config, env=ENV).start()
    yield gw
    gw.stop()


def test_asks_for_a_key_once_keeps_it_and_sends_it(browser: object, keyed_gateway: GatewayProcess,
                                                    upstream: FakeUpstream) -> None:  # fmt: skip
    key = create_key(keyed_gateway.url, "browser", models=["chat", "fast"])
    s = Session(browser, keyed_gateway, DESKTOP)
    asked: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.accept(key)

    s.page.on("dialog", answer)
    sent: list[str | None] = []
    s.context.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/v1/" in r.url else None)
    try:
        page = s.open()
        expect(page.locator("#model-name")).to_have_text("chat")  # the model list loaded, with the key
        assert len(asked) == 1 and "API key" in asked[0]
        assert page.evaluate("localStorage.getItem('llms.apiKey')") == key
        upstream.on("alpha", "a-chat", stream(["Hello ", "keyed ", "world."]))
        send(page, "hi")
        wait_done(page)
        expect(last_reply(page).locator(".content")).to_contain_text("Hello keyed world.")
        assert last_call(upstream, "alpha").body["model"] == "a-chat"
        assert f"Bearer {key}" in sent and all(h == f"Bearer {key}" for h in sent[-2:])
        page.reload()
        page.wait_for_selector("html.ready")
        expect(page.locator("#model-name")).to_have_text("chat")
        assert len(asked) == 1  # kept: not asked again
        # the key is revoked or wrong: asked again, with that said
        page.evaluate("localStorage.setItem('llms.apiKey', 'sk-llms-00000000_wrong')")
        page.reload()
        page.wait_for_selector("html.ready")
        expect(page.locator("#model-name")).to_have_text("chat")
        assert len(asked) == 2 and "refused" in asked[1]
        assert page.evaluate("localStorage.getItem('llms.apiKey')") == key
        assert not s.problems()
    finally:
        s.close()


def test_analytics_asks_for_the_admin_key_and_shows_usage_by_key(browser: object, keyed_gateway: GatewayProcess,
                                                                 upstream: FakeUpstream) -> None:  # fmt: skip
    key = create_key(keyed_gateway.url, "by-key-ui")
    client_answers = iter([key, ADMIN_KEY])  # the chat page asks for a key, the analytics page for the admin's
    s = Session(browser, keyed_gateway, DESKTOP)
    asked: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.accept(next(client_answers))

    s.page.on("dialog", answer)
    try:
        page = s.open()
        upstream.on("alpha", "a-chat", stream(["counted"]))
        send(page, "hi")
        wait_done(page)
        for _ in range(100):  # the ledger's writer stores the record within its interval
            if "by-key-ui" in str(admin(keyed_gateway.url, "GET", "/usage/summary?group_by=key")[1]):
                break
            time.sleep(0.1)
        page.goto(keyed_gateway.url + "/#/analytics")
        rows = page.locator("#usage-keys tbody tr")
        expect(rows.filter(has_text="by-key-ui")).to_have_count(1)
        assert len(asked) == 2 and "admin key" in asked[1]
        assert page.evaluate("localStorage.getItem('llms.apiKey')") == ADMIN_KEY
        row = [t.strip() for t in rows.filter(has_text="by-key-ui").locator("th, td").all_inner_texts()]
        assert row[0] == "by-key-ui" and row[1] == "1"  # one request, its tokens and cost beside it
        assert not s.problems()
    finally:
        s.close()
