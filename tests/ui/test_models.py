"""The model selector: every model the gateway serves, grouped by provider, searchable, the
default from llms.json, and the last choice remembered."""

from __future__ import annotations

from playwright.sync_api import expect

from ..fake_upstream import stream
from ..gateway_proc import GatewayProcess
from .conftest import DESKTOP, Session
from .helpers import last_call, send, wait_done


def test_default_model_comes_from_llms_json(session):
    page = session.open()
    # `chat` is llms.json's defaults.text.model, though `fast` is listed first.
    expect(page.locator("#model-name")).to_have_text("chat")
    expect(page.locator("#prompt")).to_have_attribute("placeholder", "Message chat")


def test_lists_every_model_grouped_by_provider_with_prices(session):
    page = session.open()
    page.locator("#model-button").click()
    listbox = page.get_by_role("listbox", name="Models")
    expect(listbox.get_by_role("option")).to_have_count(6)
    alpha = listbox.get_by_role("group", name="alpha")
    expect(alpha.get_by_role("option")).to_have_count(5)
    beta = listbox.get_by_role("group", name="beta")
    expect(beta.get_by_role("option", name="coder")).to_contain_text("b-coder")
    expect(alpha.locator("[data-model=chat] .model-option-price")).to_have_text("$1 / $2 per 1M")
    expect(alpha.get_by_role("option", name="chat, $1 / $2 per 1M")).to_have_attribute("aria-selected", "true")


def test_search_switch_and_remember(session, upstream):
    upstream.on("beta", "b-coder", stream(["from beta"]))
    page = session.open()
    page.locator("#model-button").click()
    page.locator("#model-search").fill("cod")
    expect(page.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#model-name")).to_have_text("coder")
    expect(page.locator("#model-popover")).to_be_hidden()
    send(page, "Which model?")
    wait_done(page)
    assert last_call(upstream, "beta").body["model"] == "b-coder"
    page.keyboard.press("Control+k")  # a new chat keeps the last choice
    expect(page.locator("#model-name")).to_have_text("coder")
    page.reload()
    page.wait_for_selector("html.ready")
    expect(page.locator("#model-name")).to_have_text("coder")


def test_keyboard_navigation_and_switching_mid_conversation(session, upstream):
    upstream.on("alpha", "a-chat", stream(["A"]))
    upstream.on("alpha", "a-vision", stream(["B"]))
    page = session.open()
    send(page, "first")
    wait_done(page)
    page.locator("#model-button").click()
    page.keyboard.press("ArrowDown")  # chat → vision
    page.keyboard.press("Enter")
    expect(page.locator("#model-name")).to_have_text("vision")
    send(page, "second")
    wait_done(page, 2)
    assert last_call(upstream, "alpha").body["model"] == "a-vision"
    expect(page.locator(".msg.assistant .meta-model")).to_have_text(["chat", "vision"])
    page.locator("#model-button").click()
    page.keyboard.press("Escape")
    expect(page.locator("#model-popover")).to_be_hidden()
    expect(page.locator("#model-button")).to_be_focused()


def test_a_gateway_without_models_says_so(browser):
    empty = GatewayProcess({"providers": {}}).start()
    s = Session(browser, empty, DESKTOP)
    try:
        page = s.open()
        expect(page.locator("#model-name")).to_have_text("No model")
        page.locator("#model-button").click()
        expect(page.locator(".model-empty")).to_contain_text("The gateway serves no model")
        page.keyboard.press("Escape")
        send(page, "Hello?")
        expect(page.locator(".toast")).to_contain_text("No model to send to")
        expect(page.locator("#prompt")).to_have_value("Hello?")  # nothing typed is lost
        assert not s.problems()
    finally:
        s.close()
        empty.stop()
