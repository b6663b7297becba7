"""Errors the user can meet besides a failing provider: the gateway unreachable, a model that is
gone; and privacy: a reply cannot make the browser fetch from another host."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from ..fake_upstream import stream
from .helpers import last_reply, send, wait_done


def test_network_drop_is_shown_and_retry_works(session, upstream):
    page = session.open()
    page.route("**/v1/chat/completions", lambda route: route.abort("connectionreset"))
    send(page, "Are you there?")
    wait_done(page)
    alert = last_reply(page).get_by_role("alert")
    expect(alert).to_contain_text("Could not reach the gateway")
    expect(alert).to_contain_text("Check that the gateway is still running")
    page.unroute("**/v1/chat/completions")
    upstream.on("alpha", "a-chat", stream(["Back again."]))
    alert.get_by_role("button", name="Retry").click()
    wait_done(page)
    expect(last_reply(page).locator(".content")).to_have_text("Back again.")


def test_unknown_model_error_is_readable(session):
    page = session.open()

    def add_ghost(route):  # type: ignore[no-untyped-def]
        data = route.fetch().json()
        data["data"].append({"id": "ghost", "object": "model", "created": 0, "owned_by": "nowhere"})
        route.fulfill(body=json.dumps(data), content_type="application/json")

    page.route("**/v1/models", add_ghost)  # the gateway's config changed since the page loaded
    page.reload()
    page.wait_for_selector("html.ready")
    page.locator("#model-button").click()
    page.locator("#model-search").fill("ghost")
    page.keyboard.press("Enter")
    send(page, "Hello ghost")
    wait_done(page)
    alert = last_reply(page).get_by_role("alert")
    expect(alert).to_contain_text("ghost")
    expect(alert).to_contain_text("HTTP 404")
    expect(alert.locator(".error-hint")).to_have_text("Pick another model from the list at the top.")


def test_remote_images_in_a_reply_become_links(session, upstream):
    upstream.on(
        "alpha", "a-chat", stream(["Look: ![a cat](http://198.51.100.7/cat.png) and [docs](http://198.51.100.7/)"])
    )
    page = session.open()
    send(page, "Show a picture")
    wait_done(page)
    content = last_reply(page).locator(".content")
    expect(content.locator("img")).to_have_count(0)
    expect(content.locator("a", has_text="a cat")).to_have_attribute("href", "http://198.51.100.7/cat.png")
    expect(content.locator("a", has_text="docs")).to_have_attribute("rel", "noopener noreferrer")
    # The session fixture then asserts that no request went to 198.51.100.7 (or anywhere else).
