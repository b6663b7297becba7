"""Browser fixtures for the chat UI: a real `llms --serve` whose providers point at the fake
upstream, and Debian's chromium driven by Playwright (by path: Playwright's own browser download
is not reachable here). Every page records the URLs it requested, so each test also proves the
UI asked nothing of any host but the gateway."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess

CHROMIUM = os.environ.get("LLMS_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--font-render-hinting=none",
]
DESKTOP = {"width": 1280, "height": 800}
# Generous waits: CI shares two cores with the rest of the suite. They bound waiting, they do
# not measure speed.
expect.set_options(timeout=15_000)
PHONE = {"width": 390, "height": 844}


def ui_config(upstream: FakeUpstream) -> dict:
    """`alpha` serves five models with pricing, `beta` serves `coder`; both serve `shared`
    (alpha first, for failover; beta prices `shared` only). The default is `chat`, which is
    not the first model listed, so the default is visibly honoured."""
    return {
        "defaults": {"text": {"model": "chat"}},
        "timeouts": {"connect": 2, "first_byte": 5, "idle": 5, "total": 30},
        "providers": {
            "alpha": {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url("alpha"),
                "api_key": "sk-alpha",
                "models": {
                    "fast": "a-fast",
                    "chat": "a-chat",
                    "vision": "a-vision",
                    "thinker": "a-think",
                    "shared": "a-shared",
                },
                "default_pricing": {"input": "0.000001", "output": "0.000002"},
            },
            "beta": {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url("beta"),
                "api_key": "sk-beta",
                "models": {"coder": "b-coder", "shared": "b-shared"},
                "pricing": {"b-shared": {"input": "0.00001", "output": "0.00002"}},
            },
        },
    }


@pytest.fixture(scope="package")
def ui_gateway(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(ui_config(upstream)).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM}: run scripts/setup.d/20-chromium.sh (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Session:
    """One browser context (its own IndexedDB and localStorage) on the gateway, with the
    requests it made and the script errors it raised."""

    def __init__(self, browser: object, gateway: GatewayProcess, viewport: dict, color_scheme: str = "light") -> None:
        self.gateway = gateway
        self.context = browser.new_context(  # type: ignore[attr-defined]
            viewport=viewport, color_scheme=color_scheme, accept_downloads=True, reduced_motion="reduce"
        )
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway.url)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.broken: list[str] = []  # UI files that did not load
        self.console: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.context.on("response", self._check)
        self.page = self.new_page()

    def _check(self, response) -> None:  # type: ignore[no-untyped-def]
        path = urlsplit(response.url).path
        if response.status >= 400 and (path == "/" or path.startswith("/ui/")):
            self.broken.append(f"{response.status} {response.url}")

    def new_page(self):  # type: ignore[no-untyped-def]
        page = self.context.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("requestfailed", lambda r: self.console.append(f"request failed: {r.url} {r.failure}"))
        page.set_default_timeout(20_000)
        return page

    def open(self, path: str = "/"):  # type: ignore[no-untyped-def]
        self.page.goto(self.gateway.url + path)
        try:
            self.page.wait_for_selector("html.ready")
        except Exception as e:
            raise AssertionError(f"the app did not start: {self.problems()} {self.console}") from e
        return self.page

    def problems(self) -> list[str]:
        """Uncaught script errors, UI files that failed, and requests to any other host."""
        own = urlsplit(self.gateway.url).netloc
        foreign = [u for u in self.requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != own]
        return [f"script error: {e}" for e in self.errors] + self.broken + [f"foreign request: {u}" for u in foreign]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser: object, ui_gateway: GatewayProcess) -> Iterator[Session]:
    s = Session(browser, ui_gateway, DESKTOP)
    yield s
    s.close()
    assert not s.problems()


@pytest.fixture
def make_session(browser: object, ui_gateway: GatewayProcess) -> Iterator:
    made: list[Session] = []

    def make(viewport: dict = DESKTOP, color_scheme: str = "light") -> Session:
        s = Session(browser, ui_gateway, viewport, color_scheme)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    for s in made:
        assert not s.problems()


def screenshot(page, name: str, *, docs: bool = False) -> Path:  # type: ignore[no-untyped-def]
    """Saves `test-artifacts/ui/<name>.png`. With LLMS_UPDATE_SCREENSHOTS=1, `docs=True` ones
    also refresh docs/screenshots/ (committed; the docs link them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    if docs and os.environ.get("LLMS_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return path
