"""Per-chat settings: system prompt, temperature, top_p, max tokens, reasoning effort; the saved
prompt library; everything kept with the chat and sent only when set."""

from __future__ import annotations

from playwright.sync_api import expect

from ..fake_upstream import stream
from .helpers import last_call, send, wait_done


def open_settings(page):  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Chat settings and system prompt").click()
    dialog = page.get_by_role("dialog", name="Chat settings")
    expect(dialog).to_be_visible()
    return dialog


def test_settings_are_sent_and_belong_to_their_chat(session, upstream):
    upstream.on("alpha", "a-chat", stream(["Arr."]))
    page = session.open()
    dialog = open_settings(page)
    dialog.get_by_label("System prompt").fill("You are a pirate.")
    dialog.get_by_label("Temperature").fill("0.3")
    dialog.get_by_label("Top P").fill("0.9")
    dialog.get_by_label("Max tokens").fill("256")
    dialog.get_by_label("Reasoning effort").select_option("low")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#settings-open")).to_have_class("icon-btn settings-btn badge")
    send(page, "Hello")
    wait_done(page)
    body = last_call(upstream, "alpha").body
    assert body["messages"] == [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Hello"},
    ]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["reasoning_effort"]) == (0.3, 0.9, 256, "low")

    page.keyboard.press("Control+k")  # a new chat starts with the model's defaults
    dialog = open_settings(page)
    expect(dialog.get_by_label("System prompt")).to_have_value("")
    expect(dialog.get_by_label("Temperature")).to_have_value("")
    dialog.get_by_role("button", name="Cancel").click()
    send(page, "Plain")
    wait_done(page)
    body = last_call(upstream, "alpha").body
    assert body["messages"] == [{"role": "user", "content": "Plain"}]
    assert not {"temperature", "top_p", "max_tokens", "reasoning_effort"} & body.keys()

    page.reload()
    page.wait_for_selector("html.ready")
    page.locator(".history-link", has_text="Hello").click()
    dialog = open_settings(page)
    expect(dialog.get_by_label("System prompt")).to_have_value("You are a pirate.")
    expect(dialog.get_by_label("Max tokens")).to_have_value("256")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_prompt_library_save_pick_delete(session):
    page = session.open()
    dialog = open_settings(page)
    library = dialog.get_by_label("Saved prompts")
    expect(library.locator("option")).to_have_text(["Code reviewer", "Concise", "Translator"])
    dialog.get_by_label("System prompt").fill("Answer in haiku.")
    dialog.get_by_role("button", name="Save current…").click()
    dialog.get_by_label("Name for the saved prompt").fill("Haiku")
    dialog.get_by_role("button", name="Save prompt").click()
    expect(library.locator("option")).to_have_text(["Code reviewer", "Concise", "Haiku", "Translator"])
    dialog.get_by_label("System prompt").fill("")
    library.select_option(label="Haiku")
    dialog.get_by_role("button", name="Use").click()
    expect(dialog.get_by_label("System prompt")).to_have_value("Answer in haiku.")
    page.reload()  # saved prompts are kept in the browser
    page.wait_for_selector("html.ready")
    dialog = open_settings(page)
    library = dialog.get_by_label("Saved prompts")
    library.select_option(label="Haiku")
    dialog.get_by_role("button", name="Delete the selected saved prompt").click()
    expect(library.locator("option")).to_have_text(["Code reviewer", "Concise", "Translator"])
