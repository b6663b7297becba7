"""Attachments: images by file picker, paste or drag-and-drop reach the upstream as `image_url`
data URIs and show as thumbnails; text files are inlined; a model that rejects images says so."""

from __future__ import annotations

import base64
import struct
import zlib

from playwright.sync_api import expect

from ..fake_upstream import error, stream
from .helpers import last_call, last_reply, send, wait_done


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (220, 40, 40)) -> bytes:
    """A real PNG, made here so the test needs no image files."""

    def part(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + part(b"IHDR", header) + part(b"IDAT", zlib.compress(rows)) + part(b"IEND", b"")


def data_uri(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def test_picked_image_reaches_the_upstream_as_a_data_uri(session, upstream):
    upstream.on("alpha", "a-vision", stream(["A red square."]))
    image = png()
    page = session.open()
    page.locator("#model-button").click()
    page.locator("#model-search").fill("vision")
    page.keyboard.press("Enter")
    page.locator("#file-input").set_input_files(files=[{"name": "red.png", "mimeType": "image/png", "buffer": image}])
    expect(page.locator("#attachments img")).to_have_attribute("alt", "red.png")
    send(page, "What is this?")
    wait_done(page)
    content = last_call(upstream, "alpha").body["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": data_uri(image)}},
    ]
    expect(page.locator(".msg.user img.thumb")).to_have_attribute("src", data_uri(image))
    expect(page.locator("#attachments .attachment")).to_have_count(0)
    # The image stays part of the conversation for the next turn.
    send(page, "And now?")
    wait_done(page, 2)
    assert last_call(upstream, "alpha").body["messages"][0]["content"][1]["image_url"]["url"] == data_uri(image)


def test_pasted_and_dropped_images_are_attached(session, upstream):
    page = session.open()
    b64 = base64.b64encode(png(rgb=(10, 120, 240))).decode()
    make_transfer = """(b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'blue.png', {type: 'image/png'}));
        return dt;
    }"""
    page.locator("#prompt").focus()
    page.evaluate(
        f"""(b64) => {{
        const dt = ({make_transfer})(b64);
        const paste = new ClipboardEvent('paste', {{clipboardData: dt, bubbles: true, cancelable: true}});
        document.getElementById('prompt').dispatchEvent(paste);
    }}""",
        b64,
    )
    expect(page.locator("#attachments img")).to_have_count(1)
    dt = page.evaluate_handle(make_transfer, b64)
    page.dispatch_event("#main", "dragenter", {"dataTransfer": dt})
    expect(page.locator("#dropzone")).to_be_visible()
    page.dispatch_event("#main", "drop", {"dataTransfer": dt})
    expect(page.locator("#dropzone")).to_be_hidden()
    expect(page.locator("#attachments img")).to_have_count(2)
    page.get_by_role("button", name="Remove blue.png").first.click()
    expect(page.locator("#attachments img")).to_have_count(1)
    page.get_by_role("button", name="Send message").click()  # an image alone can be sent
    wait_done(page)
    content = last_call(upstream, "alpha").body["messages"][0]["content"]
    assert content == [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64}}]


def test_text_file_is_inlined(session, upstream):
    page = session.open()
    source = b"def hello():\n    return 'hi'\n"
    page.locator("#file-input").set_input_files(
        files=[{"name": "hello.py", "mimeType": "text/x-python", "buffer": source}]
    )
    expect(page.locator("#attachments .attachment-file")).to_contain_text("hello.py")
    send(page, "Review this")
    wait_done(page)
    content = last_call(upstream, "alpha").body["messages"][0]["content"]
    assert content == "Review this\n\nhello.py:\n```python\ndef hello():\n    return 'hi'\n\n```"
    expect(page.locator(".msg.user .file-chip")).to_contain_text("hello.py")


def test_binary_file_is_refused_with_a_message(session):
    page = session.open()
    page.locator("#file-input").set_input_files(
        files=[{"name": "blob.bin", "mimeType": "application/octet-stream", "buffer": b"\x00\x01\x02"}]
    )
    expect(page.locator(".toast")).to_contain_text("only images and text files")
    expect(page.locator("#attachments .attachment")).to_have_count(0)


def test_model_that_rejects_images_gets_a_clear_message(session, upstream):
    upstream.on("alpha", "a-chat", error(400, "image_url is not supported by this model", type="invalid_request_error"))
    page = session.open()
    page.locator("#file-input").set_input_files(files=[{"name": "red.png", "mimeType": "image/png", "buffer": png()}])
    send(page, "Look")
    wait_done(page)
    alert = last_reply(page).get_by_role("alert")
    expect(alert).to_contain_text("image_url is not supported by this model")
    expect(alert.locator(".error-hint")).to_have_text(
        "chat may not accept images. Pick a model with vision, or remove the image and send again."
    )
