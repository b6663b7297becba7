"""The analytics page (#/analytics) in Debian's chromium: charts drawn with data, the tables by
model and provider showing the numbers put in the ledger here, the latest requests with their
attempts, the "ledger is off" message, and nothing requested from another host. Also writes the
analytics screenshots the docs show.

Until the request pipeline (branch `pipeline`) wires the ledger into `llms --serve`, these tests
do not start the real gateway: a small real aiohttp app on loopback serves the same UI files
(`UiAssets`, with its CSP), a stub model list, and `add_usage_routes` over a real SQLite sink
filled by the test. Switch `ledger_gateway` to `GatewayProcess` once the gateway serves
/usage/* itself."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator

import pytest
from aiohttp import web
from playwright.sync_api import expect

from llms.server.errors import error_middleware
from llms.server.ui import UiAssets
from llms.server.usage_api import add_usage_routes
from llms.usage import UsageRecord
from llms.usage.sqlite import SqliteSink

from ..fake_upstream import LoopbackServer
from .conftest import DESKTOP, PHONE, Session, screenshot

DAY = 86400.0


class LedgerGateway(LoopbackServer):
    """The UI plus the ledger's read API (`sink=None`: the ledger is off, /usage/* is 404)."""

    thread_name = "ledger-gateway"

    def __init__(self, sink: SqliteSink | None) -> None:
        super().__init__()
        self.sink = sink

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, app: web.Application) -> None:
        app.middlewares.append(error_middleware)
        ui = UiAssets()
        models = {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": p}
                                             for m, p in (("chat", "alpha"), ("coder", "beta"))]}  # fmt: skip
        app.router.add_get("/", ui.index)
        app.router.add_get("/ui/{path:.+}", ui.asset)
        app.router.add_get("/v1/models", lambda _r: web.json_response(models))
        app.router.add_get("/status", lambda _r: web.json_response({"default_model": "chat"}))
        if self.sink is not None:
            add_usage_routes(app, self.sink)


def ledger_records(now: float) -> list[UsageRecord]:
    """40 requests over the last six days: `chat` on alpha, `coder` on beta; every fifth failed
    over from alpha to beta; some all failed (no usage, no cost)."""
    recs = []
    for i in range(40):
        model, provider = ("coder", "beta") if i % 3 == 0 else ("chat", "alpha")
        attempts = [{"provider": provider, "status": 200, "error": None, "seconds": 0.4 + i / 100}]
        outcome, status = "ok", 200
        if i % 5 == 0:
            provider = "beta"
            attempts = [{"provider": "alpha", "status": 503, "error": "upstream_unavailable", "seconds": 0.2},
                        {"provider": "beta", "status": 200, "error": None, "seconds": 0.8}]  # fmt: skip
        elif i % 7 == 3:
            provider, outcome, status = None, "upstream_error", 502
            attempts = [{"provider": "alpha", "status": 500, "error": "upstream_error", "seconds": 0.3}]
        known = outcome == "ok"
        pt, ct = (1000 + 37 * i, 200 + 11 * i) if known else (None, None)
        recs.append(UsageRecord(
            id=f"req_{i:032x}", created=now - (i % 6) * DAY - i, api="chat.completions", model=model,
            provider=provider, provider_model=f"{provider}-{model}" if provider else None, stream=i % 2 == 0,
            status=status, outcome=outcome, attempts=attempts,  # type: ignore[arg-type]
            prompt_tokens=pt, completion_tokens=ct, cost=(pt * 1e-6 + ct * 2e-6) if known else None,
            ttft_ms=100.0 + i, duration_ms=300.0 + 25 * i,
        ))  # fmt: skip
    return recs


def totals(recs: list[UsageRecord], group_of) -> dict:  # type: ignore[no-untyped-def]
    """Requests, errors and token sums per group, counted here."""
    out: dict = defaultdict(lambda: {"requests": 0, "errors": 0, "prompt": 0, "completion": 0})
    for r in recs:
        t = out[group_of(r)]
        t["requests"] += 1
        t["errors"] += r.outcome != "ok"
        t["prompt"] += r.prompt_tokens or 0
        t["completion"] += r.completion_tokens or 0
    return out


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteSink, list[UsageRecord]]]:
    sink = SqliteSink(tmp_path_factory.mktemp("ledger") / "usage.db").start()
    recs = ledger_records(time.time())
    for r in recs:
        sink.submit(r)
    assert sink.flush(timeout=30)
    yield sink, recs
    sink.close()


@pytest.fixture(scope="module")
def ledger_gateway(ledger) -> Iterator[LedgerGateway]:  # type: ignore[no-untyped-def]
    gw = LedgerGateway(ledger[0]).start()
    yield gw
    gw.stop()


@pytest.fixture
def open_session(browser: object) -> Iterator:
    made: list[Session] = []

    def make(gateway: LedgerGateway, viewport: dict = DESKTOP, color_scheme: str = "light") -> Session:
        s = Session(browser, gateway, viewport, color_scheme)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    for s in made:
        assert not s.problems()


# Pixels of the series colour (--chart-1, blue in both themes) on a chart's canvas: zero for an
# empty chart, whose canvas has only grey grid lines and labels.
SERIES_PIXELS = """id => {
  const canvas = document.querySelector(`#${id} canvas`);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200 && data[i + 2] > data[i] + 60 && data[i + 2] > data[i + 1] + 30) n++;
  }
  return n;
}"""

# Pixels within a small distance of one colour on a chart's canvas.
COLOUR_PIXELS = """(id, rgb) => {
  if (Array.isArray(id)) [id, rgb] = id;
  const canvas = document.querySelector(`#${id} canvas`);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) < 30) n++;
  }
  return n;
}"""


def open_analytics(s: Session):  # type: ignore[no-untyped-def]
    page = s.open("/#/analytics")
    expect(page.locator("#analytics")).to_be_visible()
    expect(page.locator("#usage-body canvas")).to_have_count(3)
    return page


def cells(row) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.strip() for t in row.locator("th, td").all_inner_texts()]


def test_charts_and_tables_show_the_ledger(open_session, ledger_gateway, ledger):
    _, recs = ledger
    page = open_analytics(open_session(ledger_gateway))
    for chart in ("chart-cost", "chart-tokens", "chart-latency"):
        assert page.evaluate(SERIES_PIXELS, chart) > 30, chart

    errors = sum(r.outcome != "ok" for r in recs)
    failovers = sum(len(r.attempts) > 1 for r in recs)
    cards = dict(zip(page.locator(".usage-card-label").all_inner_texts(),
                     page.locator(".usage-card-value").all_inner_texts(), strict=True))  # fmt: skip
    assert cards["Requests"] == str(len(recs)) and cards["Errors"] == str(errors)
    assert cards["Failovers"] == str(failovers)
    assert cards["Tokens"] == f"{sum((r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in recs):,}"

    for table, group_of in (("#usage-models", lambda r: r.model), ("#usage-providers", lambda r: r.provider)):
        want = totals(recs, group_of)
        rows = page.locator(f"{table} tbody tr")
        expect(rows).to_have_count(len(want))
        for row in rows.all():
            got = cells(row)
            t = want[None if got[0] == "(none served)" else got[0]]
            assert got[1:5] == [str(t["requests"]), str(t["errors"]),
                                f"{t['prompt']:,}" if t["prompt"] else "–",
                                f"{t['completion']:,}" if t["completion"] else "–"], got  # fmt: skip
            assert got[5].startswith("$") or got[5] == "–"


def test_latest_requests_show_their_attempts(open_session, ledger_gateway, ledger):
    _, recs = ledger
    page = open_analytics(open_session(ledger_gateway))
    newest = sorted(recs, key=lambda r: (r.created, r.id), reverse=True)
    rows = page.locator("#usage-latest tbody tr")
    expect(rows).to_have_count(len(recs))
    assert [rows.nth(i).get_attribute("data-id") for i in range(3)] == [r.id for r in newest[:3]]
    failover = next(r for r in recs if len(r.attempts) > 1)
    attempts = page.locator(f'#usage-latest tr[data-id="{failover.id}"] .attempt')
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("alpha 503 upstream_unavailable")
    expect(attempts.nth(1)).to_contain_text("beta 200")
    failed = next(r for r in recs if r.outcome == "upstream_error")
    expect(page.locator(f'#usage-latest tr[data-id="{failed.id}"] .outcome')).to_have_text("upstream_error")


def test_reached_from_the_sidebar_and_back_to_chat(open_session, ledger_gateway):
    page = open_session(ledger_gateway).open()
    expect(page.locator("#analytics")).to_be_hidden()
    page.get_by_role("link", name="Analytics").click()
    expect(page.locator("#usage-body canvas")).to_have_count(3)
    expect(page.locator("#thread")).to_be_hidden()
    assert page.title() == "Analytics · llms"
    page.get_by_role("button", name="Theme: system (switch)").click()
    page.get_by_role("button", name="Theme: light (switch)").click()  # now dark: the charts are redrawn
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_function(f"({COLOUR_PIXELS})('chart-cost', [124, 176, 255]) > 30")  # --chart-1, dark
    assert page.evaluate(COLOUR_PIXELS, ["chart-cost", [37, 99, 235]]) == 0  # no light-theme bar left
    page.locator("#new-chat").click()
    expect(page.locator("#analytics")).to_be_hidden()
    expect(page.locator("#prompt")).to_be_visible()


def test_a_gateway_without_ledger_says_it_is_off(open_session):
    gw = LedgerGateway(None).start()
    try:
        page = open_session(gw).open("/#/analytics")
        expect(page.locator("#usage-notice")).to_contain_text("The usage ledger is off")
        expect(page.locator("#usage-body canvas")).to_have_count(0)
    finally:
        gw.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(open_session, ledger_gateway, scheme):
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = open_analytics(open_session(ledger_gateway, viewport, scheme))
        page.mouse.move(0, viewport["height"] - 1)
        screenshot(page, f"analytics-{name}-{scheme}", docs=True)
        page.locator("#usage-latest").scroll_into_view_if_needed()
        screenshot(page, f"analytics-latest-{name}-{scheme}")
