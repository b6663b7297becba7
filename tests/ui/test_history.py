"""History stays in the browser (IndexedDB): it survives a reload, can be searched, renamed,
deleted (with Undo), exported and imported as JSON; the server keeps none of it."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from ..fake_upstream import stream
from .helpers import last_reply, send, wait_done


def chat(page, upstream, question: str, answer: str) -> None:  # type: ignore[no-untyped-def]
    upstream.on("alpha", "a-chat", stream([answer]))
    page.keyboard.press("Control+k")
    send(page, question)
    wait_done(page)


def test_history_survives_reload_newest_first(session, upstream):
    page = session.open()
    chat(page, upstream, "Older question", "Older answer")
    chat(page, upstream, "Newer question", "Newer answer")
    items = page.locator(".history-item .history-title")
    expect(items).to_have_text(["Newer question", "Older question"])
    page.reload()
    page.wait_for_selector("html.ready")
    expect(items).to_have_text(["Newer question", "Older question"])
    # The open chat is in the URL, so a reload comes back to it.
    expect(page.locator(".msg.user .bubble")).to_have_text("Newer question")
    expect(last_reply(page).locator(".content")).to_have_text("Newer answer")
    page.locator(".history-link", has_text="Older question").click()
    expect(last_reply(page).locator(".content")).to_have_text("Older answer")
    expect(page.locator(".history-item.active")).to_contain_text("Older question")
    # A second tab of the same browser sees the same history.
    other = session.new_page()
    other.goto(session.gateway.url)
    other.wait_for_selector("html.ready")
    expect(other.locator(".history-item .history-title")).to_have_count(2)


def test_search_filters_titles_and_messages(session, upstream):
    page = session.open()
    chat(page, upstream, "About penguins", "They live in the south.")
    chat(page, upstream, "About camels", "They store fat in humps.")
    page.locator("#search").fill("humps")
    expect(page.locator(".history-item .history-title")).to_have_text(["About camels"])
    page.locator("#search").fill("PENGUIN")
    expect(page.locator(".history-item .history-title")).to_have_text(["About penguins"])
    page.locator("#search").fill("zebra")
    expect(page.locator(".history-empty")).to_have_text("No chat matches your search.")


def test_rename_and_delete_with_undo(session, upstream):
    page = session.open()
    chat(page, upstream, "Keep me", "kept")
    chat(page, upstream, "Rename me", "renamed")
    item = page.locator(".history-item", has_text="Rename me")
    item.hover()
    item.get_by_role("button", name="Rename “Rename me”").click()
    field = page.get_by_role("textbox", name="Chat title")
    field.fill("A better title")
    field.press("Enter")
    expect(page.locator(".history-item .history-title").first).to_have_text("A better title")

    gone = page.locator(".history-item", has_text="Keep me")
    gone.hover()
    gone.get_by_role("button", name="Delete “Keep me”").click()
    expect(page.locator(".history-item")).to_have_count(1)
    page.locator(".toast").get_by_role("button", name="Undo").click()
    expect(page.locator(".history-item")).to_have_count(2)

    gone = page.locator(".history-item", has_text="A better title")
    gone.hover()
    gone.get_by_role("button", name="Delete “A better title”").click()
    expect(page.locator(".history-item")).to_have_count(1)
    page.reload()
    page.wait_for_selector("html.ready")
    expect(page.locator(".history-item .history-title")).to_have_text(["Keep me"])
    expect(page.locator(".msg")).to_have_count(0)  # the deleted chat was open: now a new chat


def test_export_then_import_into_a_fresh_browser(make_session, upstream, tmp_path):
    first = make_session()
    page = first.open()
    chat(page, upstream, "Exported question", "Exported answer")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export chats as JSON").click()
    path = tmp_path / "export.json"
    download.value.save_as(path)
    data = json.loads(path.read_text())
    assert data["format"] == "llms-chat" and data["version"] == 1
    [conv] = data["conversations"]
    assert conv["title"] == "Exported question"
    assert [m["content"] for m in conv["messages"]] == ["Exported question", "Exported answer"]
    assert conv["messages"][1]["provider"] == "alpha"

    second = make_session()  # another browser profile: empty history
    page2 = second.open()
    expect(page2.locator(".history-item")).to_have_count(0)
    page2.locator("#import-file").set_input_files(str(path))
    expect(page2.locator(".toast")).to_contain_text("Imported 1 chat")
    page2.locator(".history-link", has_text="Exported question").click()
    expect(last_reply(page2).locator(".content")).to_have_text("Exported answer")
    # Importing the same file again changes nothing.
    page2.locator("#import-file").set_input_files(str(path))
    expect(page2.locator(".history-item")).to_have_count(1)


def test_import_rejects_a_file_that_is_not_an_export(session, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    page = session.open()
    page.locator("#import-file").set_input_files(str(bad))
    expect(page.locator(".toast")).to_contain_text("Import failed")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    page.locator("#import-file").set_input_files(str(broken))
    expect(page.locator(".toast").last).to_contain_text("not valid JSON")
