"""Looks and feels right: light/dark (system and switch), phone width, keyboard shortcuts,
accessible names and contrast. Also writes the screenshots the docs show."""

from __future__ import annotations

from playwright.sync_api import expect

from ..fake_upstream import stream
from .conftest import PHONE, screenshot
from .helpers import send, wait_done

DARK_BG = "rgb(33, 33, 33)"
LIGHT_BG = "rgb(255, 255, 255)"

SHOWCASE = [
    "Here is a small **retry with backoff** helper. It waits longer after each failure ",
    "and gives up after `attempts` tries:\n\n",
    "```python\nimport asyncio, random\n",
    "async def retry(call, attempts=4, base=0.5):\n",
    "    for n in range(attempts):\n        try:\n            return await call()\n",
    "        except ConnectionError:\n            if n == attempts - 1:\n                raise\n",
    "            await asyncio.sleep(base * 2**n * random.uniform(0.5, 1.5))\n```\n\n",
    "| attempt | wait (about) |\n|---|---|\n| 1 | 0.5 s |\n| 2 | 1 s |\n\n",
    "Retry only errors that can pass: connection resets, timeouts, `429` and `5xx`.",
]


def body_bg(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def frame(page) -> None:  # type: ignore[no-untyped-def]
    """The start of the conversation in view, no hover or focus ring: a calm picture for the docs."""
    page.mouse.move(640, 790)
    page.evaluate("document.activeElement.blur(); document.getElementById('thread').scrollTop = 0")


def fill_history(page, upstream) -> None:  # type: ignore[no-untyped-def]
    for title in ["Regex for ISO 8601 dates", "Compare aiohttp and FastAPI", "Summarise the failover design"]:
        upstream.on("alpha", "a-chat", stream(["Sure."]))
        page.keyboard.press("Control+k")
        send(page, title)
        wait_done(page)
    upstream.on("alpha", "a-chat", stream(SHOWCASE, delay=0.01))
    page.keyboard.press("Control+k")
    send(page, "Write a Python retry helper with exponential backoff")
    wait_done(page)


def test_follows_the_system_theme_and_the_switch(make_session, upstream):
    dark = make_session(color_scheme="dark").open()
    assert body_bg(dark) == DARK_BG
    expect(dark.locator("#theme .theme-label")).to_have_text("System")

    s = make_session(color_scheme="light")
    page = s.open()
    assert body_bg(page) == LIGHT_BG
    page.get_by_role("button", name="Theme: system (switch)").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.get_by_role("button", name="Theme: light (switch)").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert body_bg(page) == DARK_BG
    page.reload()
    page.wait_for_selector("html.ready")
    assert body_bg(page) == DARK_BG
    # The saved choice applies before the app's modules run (no light flash): shown here with
    # the app itself blocked.
    page.route("**/ui/js/main.js", lambda route: route.abort())
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert body_bg(page) == DARK_BG
    page.unroute("**/ui/js/main.js")
    page.reload()
    page.wait_for_selector("html.ready")
    # Code is readable in dark: the keyword colour is the dark palette's, not the light one.
    upstream.on("alpha", "a-chat", stream(["```js\nconst x = 1;\n```"]))
    send(page, "code")
    wait_done(page)
    colour = page.locator(".hljs-keyword").first.evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(199, 146, 234)"


def test_desktop_screenshots_light_and_dark(make_session, upstream):
    s = make_session()
    page = s.open()
    screenshot(page, "desktop-empty-light")
    fill_history(page, upstream)
    frame(page)
    screenshot(page, "desktop-light", docs=True)
    page.locator("#model-button").click()
    screenshot(page, "desktop-models-light")
    page.keyboard.press("Escape")
    page.emulate_media(color_scheme="dark")
    assert body_bg(page) == DARK_BG
    frame(page)
    screenshot(page, "desktop-dark", docs=True)
    page.get_by_role("button", name="Chat settings and system prompt").click()
    screenshot(page, "desktop-settings-dark")


def test_phone_width_drawer_and_screenshots(make_session, upstream):
    s = make_session(viewport=PHONE)
    page = s.open()
    sidebar = page.locator("#sidebar")
    expect(sidebar).not_to_be_in_viewport()
    fill_history(page, upstream)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.locator("#prompt")).to_be_in_viewport()
    frame(page)
    screenshot(page, "phone-light")
    page.get_by_role("button", name="Open sidebar").click()
    expect(sidebar).to_be_in_viewport()
    screenshot(page, "phone-drawer-light")
    page.locator(".history-link", has_text="Compare aiohttp").click()
    expect(sidebar).not_to_be_in_viewport()
    expect(page.locator(".msg.user .bubble")).to_have_text("Compare aiohttp and FastAPI")
    page.locator(".history-link").first.evaluate("e => e.blur()")
    page.emulate_media(color_scheme="dark")
    page.locator(".history-link", has_text="Write a Python").evaluate("e => e.click()")
    frame(page)
    screenshot(page, "phone-dark")


def test_keyboard_shortcuts(session, upstream):
    upstream.on("alpha", "a-chat", stream(["ok"]))
    page = session.open()
    prompt = page.locator("#prompt")
    expect(prompt).to_be_focused()
    prompt.type("line one")
    prompt.press("Shift+Enter")
    prompt.type("line two")
    expect(prompt).to_have_value("line one\nline two")
    expect(page.locator(".msg")).to_have_count(0)
    prompt.press("Enter")
    wait_done(page)
    expect(page.locator(".msg.user .bubble")).to_have_text("line one\nline two")
    page.locator("body").click()
    page.keyboard.press("Control+k")
    expect(page.locator(".msg")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    expect(prompt).to_be_focused()
    page.keyboard.press("Meta+k")
    expect(prompt).to_be_focused()


def test_every_control_has_a_name_and_text_has_contrast(make_session, upstream):
    for scheme in ("light", "dark"):
        page = make_session(color_scheme=scheme).open()
        upstream.on("alpha", "a-chat", stream(["Hello **there**"]))
        send(page, "hi")
        wait_done(page)
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('button, input:not([type=file]), textarea, select, [role=option]')]
                .filter(e => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim()))
                .map(e => e.outerHTML.slice(0, 80))"""
        )
        assert unnamed == []
        ratios = page.evaluate(
            """() => {
            const lum = c => { const [r, g, b] = c.match(/\\d+/g).map(Number).map(v => v / 255)
                .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
                return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
            const ratio = (a, b) => {
                const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
                return (x + 0.05) / (y + 0.05);
            };
            const bg = getComputedStyle(document.body).backgroundColor;
            const sidebarBg = getComputedStyle(document.getElementById('sidebar')).backgroundColor;
            const color = sel => getComputedStyle(document.querySelector(sel)).color;
            return {
                text: ratio(color('.markdown'), bg),
                faint: ratio(color('.meta'), bg),
                footnote: ratio(color('.footnote'), bg),
                sidebarLabel: ratio(color('.history-label'), sidebarBg),
            };
        }"""
        )
        assert min(ratios.values()) >= 4.5, (scheme, ratios)


def test_focus_order_follows_the_layout(session):
    page = session.open()
    page.locator(".skip-link").focus()
    order = []
    for _ in range(13):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert order == [
        "brand", "sidebar-close", "new-chat", "analytics-link", "search", "export", "import", "theme",
        "model-button", "new-chat-top", "settings-open", "prompt", "attach",
    ]  # fmt: skip
    page.locator(".skip-link").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#prompt")).to_be_focused()
