"""Chatting in a real browser: the reply streams in, renders as Markdown with highlighted code,
Stop really cancels upstream, errors are shown with Retry, and each reply carries its details."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from ..fake_upstream import error, stream
from .conftest import screenshot
from .helpers import last_call, last_reply, reasoning_stream, send, wait_done


def test_reply_streams_in_incrementally(session, upstream):
    upstream.on("alpha", "a-chat", stream(["First ", "second ", "third ", "fourth."], delay=0.6))
    page = session.open()
    send(page, "Count to four")
    content = last_reply(page).locator(".content")
    expect(content).to_contain_text("First")
    # Seen before the upstream has finished: the DOM grows while the stream is still open.
    call = last_call(upstream, "alpha")
    assert not call.finished
    assert "fourth." not in content.inner_text()
    expect(page.locator("#stop")).to_be_visible()
    expect(content).to_contain_text("First second third fourth.")
    wait_done(page)
    assert call.finished
    body = call.body
    assert body["model"] == "a-chat" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "Count to four"}]
    expect(page.locator("#send")).to_be_visible()


def test_markdown_tables_lists_and_highlighted_code_with_copy(session, upstream):
    reply = [
        "## Plan\n\nSome **bold** and `inline`.\n\n",
        "1. first\n2. second\n\n",
        "| name | size |\n|---|---|\n| a | 1 |\n\n",
        "```python\ndef add(a, b):\n    return a + b  # sum\n```\n",
        "<img src=x onerror=alert(1)><script>alert(2)</script>",
    ]
    upstream.on("alpha", "a-chat", stream(reply, delay=0.01))
    page = session.open()
    send(page, "Markdown please")
    wait_done(page)
    md = last_reply(page).locator(".markdown")
    expect(md.locator("h2")).to_have_text("Plan")
    expect(md.locator("strong")).to_have_text("bold")
    expect(md.locator("ol > li")).to_have_count(2)
    expect(md.locator("table td").first).to_have_text("a")
    code = md.locator(".code-block")
    expect(code.locator(".code-head")).to_contain_text("python")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    expect(code.locator(".hljs-comment")).to_have_text("# sum")
    assert md.locator("script").count() == 0
    assert md.locator("img[onerror]").count() == 0
    code.locator(".code-copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == "def add(a, b):\n    return a + b  # sum"
    screenshot(page, "desktop-markdown-light")


def test_stop_cancels_the_upstream_request(session, upstream):
    upstream.on("alpha", "a-chat", stream([f"word{i} " for i in range(60)], delay=0.25))
    page = session.open()
    send(page, "Talk for a long time")
    expect(last_reply(page).locator(".content")).to_contain_text("word1")
    page.keyboard.press("Escape")  # the shortcut for the Stop button
    call = last_call(upstream, "alpha")
    assert upstream.wait_for(lambda: call.disconnected, timeout=5), "the upstream never saw the disconnect"
    assert not call.finished
    wait_done(page)
    expect(last_reply(page).locator(".stopped-note")).to_have_text("Stopped.")
    expect(last_reply(page).locator(".content")).to_contain_text("word0 word1")
    expect(page.locator("#send")).to_be_visible()
    # The partial reply is kept and the chat goes on from it.
    upstream.on("alpha", "a-chat", stream(["ok"]))
    send(page, "Go on")
    wait_done(page, 2)
    sent = last_call(upstream, "alpha").body["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["content"].startswith("word0 word1")


def test_stop_button_click(session, upstream):
    upstream.on("alpha", "a-chat", stream([f"w{i} " for i in range(60)], delay=0.25))
    page = session.open()
    send(page, "Long one")
    expect(last_reply(page).locator(".content")).to_contain_text("w1")
    page.get_by_role("button", name="Stop generating").click()
    call = last_call(upstream, "alpha")
    assert upstream.wait_for(lambda: call.disconnected, timeout=5)
    wait_done(page)


def test_upstream_error_is_shown_with_retry_and_nothing_is_lost(session, upstream):
    upstream.on("alpha", "a-chat", error(400, "This model is overloaded with nonsense", type="invalid_request_error"))
    page = session.open()
    send(page, "Hello?")
    wait_done(page)
    alert = last_reply(page).get_by_role("alert")
    expect(alert).to_contain_text("This model is overloaded with nonsense")
    expect(alert).to_contain_text("HTTP 400")
    expect(page.locator(".msg.user .bubble")).to_have_text("Hello?")
    screenshot(page, "desktop-error-light")
    upstream.on("alpha", "a-chat", stream(["Recovered."]))
    alert.get_by_role("button", name="Retry").click()
    wait_done(page)
    expect(last_reply(page).locator(".content")).to_have_text("Recovered.")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".msg.user")).to_have_count(1)


def test_stream_cut_midway_keeps_the_partial_reply_and_says_so(session, upstream):
    upstream.on("alpha", "a-chat", stream(["Partial ", "answer ", "never ", "finished"], cut_after=2))
    page = session.open()
    send(page, "Cut me off")
    wait_done(page)
    reply = last_reply(page)
    expect(reply.locator(".content")).to_contain_text("Partial answer")
    expect(reply.get_by_role("alert")).to_be_visible()
    expect(reply.get_by_role("button", name="Retry")).to_be_visible()


def test_reply_details_provider_tokens_timing_and_cost(session, upstream):
    upstream.on("alpha", "a-chat", stream(["one ", "two ", "three ", "four"]))
    page = session.open()
    send(page, "Details")
    wait_done(page)
    meta = last_reply(page).locator(".meta")
    expect(meta.locator(".meta-provider")).to_have_text("alpha · a-chat")
    expect(meta.locator(".meta-tokens")).to_have_text("5 in · 4 out")
    expect(meta.locator(".meta-duration")).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))
    expect(meta.locator(".meta-ttft")).to_have_text(re.compile(r"^TTFT \d+(\.\d+)? (ms|s)$"))
    # 5 × $0.000001 + 4 × $0.000002
    expect(meta.locator(".meta-cost")).to_have_text("$0.000013")


def test_reasoning_is_shown_collapsible(session, upstream):
    upstream.on("alpha", "a-think", reasoning_stream(["Let me ", "think."], ["The answer ", "is 42."]))
    page = session.open()
    page.locator("#model-button").click()
    page.locator("#model-search").fill("thinker")
    page.keyboard.press("Enter")
    send(page, "Meaning of life?")
    wait_done(page)
    reply = last_reply(page)
    details = reply.locator("details.reasoning")
    expect(details.locator(".reasoning-body")).to_have_text("Let me think.")
    expect(reply.locator(".content")).to_have_text("The answer is 42.")
    assert details.evaluate("d => d.open") is False  # collapsed once the answer is there
    details.locator("summary").click()
    expect(details.locator(".reasoning-body")).to_be_visible()
    # Reasoning is not sent back as part of the conversation.
    upstream.on("alpha", "a-think", stream(["ok"]))
    send(page, "Thanks")
    wait_done(page, 2)
    assert last_call(upstream, "alpha").body["messages"][1] == {"role": "assistant", "content": "The answer is 42."}


def test_regenerate_copy_and_edit_resend(session, upstream):
    upstream.on("alpha", "a-chat", stream(["First answer"]))
    page = session.open()
    send(page, "Original question")
    wait_done(page)
    last_reply(page).get_by_role("button", name="Copy reply").click()
    assert page.evaluate("navigator.clipboard.readText()") == "First answer"

    upstream.on("alpha", "a-chat", stream(["Second answer"]))
    last_reply(page).get_by_role("button", name="Regenerate reply").click()
    wait_done(page)
    expect(last_reply(page).locator(".content")).to_have_text("Second answer")
    expect(page.locator(".msg")).to_have_count(2)

    upstream.on("alpha", "a-chat", stream(["Edited answer"]))
    user = page.locator(".msg.user")
    user.hover()
    user.get_by_role("button", name="Edit message").click()
    page.get_by_role("textbox", name="Edit your message").fill("Better question")
    page.get_by_role("button", name="Send", exact=True).click()
    wait_done(page)
    expect(page.locator(".msg.user .bubble")).to_have_text("Better question")
    expect(last_reply(page).locator(".content")).to_have_text("Edited answer")
    expect(page.locator(".msg")).to_have_count(2)
    assert last_call(upstream, "alpha").body["messages"] == [{"role": "user", "content": "Better question"}]


def test_stop_before_the_first_token(session, upstream):
    upstream.on("alpha", "a-chat", stream(["late"], first_delay=4))
    page = session.open()
    send(page, "Slow start")
    expect(last_reply(page).locator(".typing")).to_be_visible()
    call = last_call(upstream, "alpha")
    page.get_by_role("button", name="Stop generating").click()
    wait_done(page)
    expect(last_reply(page).locator(".stopped-note")).to_be_visible()
    assert upstream.wait_for(lambda: call.disconnected, timeout=5), "the upstream never saw the disconnect"


def test_deleting_the_chat_that_is_streaming_stops_it_for_good(session, upstream):
    upstream.on("alpha", "a-chat", stream([f"x{i} " for i in range(40)], delay=0.2))
    page = session.open()
    send(page, "Doomed chat")
    expect(last_reply(page).locator(".content")).to_contain_text("x1")
    item = page.locator(".history-item", has_text="Doomed chat")
    item.hover()
    item.get_by_role("button", name="Delete “Doomed chat”").click()
    call = last_call(upstream, "alpha")
    assert upstream.wait_for(lambda: call.disconnected, timeout=5)
    expect(page.locator("#send")).to_be_visible()  # the reply has ended: its last save came and went
    page.reload()
    page.wait_for_selector("html.ready")
    expect(page.locator(".history-item")).to_have_count(0)


def test_failover_shows_the_path_and_the_provider_that_answered(session, upstream):
    upstream.on("alpha", "a-shared", error(503, "alpha is down"))
    upstream.on("beta", "b-shared", stream(["from beta"]))
    page = session.open()
    page.locator("#model-button").click()
    page.locator("#model-search").fill("shared")
    page.keyboard.press("Enter")
    send(page, "Anyone there?")
    wait_done(page)
    meta = last_reply(page).locator(".meta")
    expect(meta.locator(".meta-provider")).to_have_text("beta · b-shared")
    # alpha may have been retried first (×n); then the gateway failed over to beta.
    expect(meta.locator(".meta-tried")).to_have_text(re.compile(r"^after failover: alpha( ×\d+)? → beta$"))
    # the cost is beta's price (from the gateway's x-llms-pricing), not alpha's listed one:
    # 5 × $0.00001 + 1 × $0.00002
    expect(meta.locator(".meta-cost")).to_have_text("$0.00007")


def test_scroll_follows_the_reply_unless_the_reader_scrolls_up(session, upstream):
    upstream.on("alpha", "a-chat", stream([f"Paragraph {i}.\n\n" for i in range(60)], delay=0.05))
    page = session.open()
    send(page, "Long answer")
    thread = page.locator("#thread")
    button = page.get_by_role("button", name="Scroll to the latest message")
    expect(last_reply(page).locator(".content")).to_contain_text("Paragraph 25.")
    assert thread.evaluate("t => t.scrollHeight - t.scrollTop - t.clientHeight") < 120  # following
    expect(button).to_be_hidden()
    thread.evaluate("t => t.scrollTop = 0")  # the reader goes back up while it streams
    wait_done(page)
    assert thread.evaluate("t => t.scrollTop") == 0  # not yanked down
    expect(button).to_be_visible()
    button.click()
    expect(button).to_be_hidden()
    expect(last_reply(page).locator(".meta")).to_be_in_viewport()
