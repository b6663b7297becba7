"""The ledger's read API (`llms.server.usage_api`) over a real SQLite sink, served by a real
aiohttp app (with the server's error middleware) on a loopback port: paging and filters, one
record, the summary as JSON and CSV matching a count done here, and 400/404/503 envelopes."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from llms.server.errors import error_middleware
from llms.server.usage_api import add_usage_routes, parse_time
from llms.usage.sqlite import SqliteSink

from .test_sinks import DAY, T0, assert_rows_match, expected_summary, records, store


class Served:
    def __init__(self, url: str, sink: SqliteSink, recs: list) -> None:
        self.url, self.sink, self.recs = url, sink, recs
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    async def get(self, path: str, **kw) -> tuple[int, object, aiohttp.ClientResponse]:
        async with self.http.get(self.url + path, **kw) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body, r


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[Served]:
    sink = SqliteSink(tmp_path / "usage.db").start()
    recs = records(300, seed=3, step=DAY * 3 / 300)  # three UTC days
    store(sink, recs)
    app = web.Application(middlewares=[error_middleware])
    add_usage_routes(app, sink)
    runner, url = await serve(app)
    served = Served(url, sink, recs)
    yield served
    await served.http.close()
    await runner.cleanup()
    sink.close()


async def test_requests_page_newest_first_then_the_next_page(api):
    status, body, _ = await api.get("/usage/requests?limit=50")
    assert status == 200 and body["object"] == "list" and body["has_more"] is True
    newest = sorted(api.recs, key=lambda r: (r.created, r.id), reverse=True)
    assert [r["id"] for r in body["data"]] == [r.id for r in newest[:50]]
    assert body["data"][0] == newest[0].to_dict()  # every field, attempts included
    status, body, _ = await api.get(f"/usage/requests?limit=1000&before={body['data'][-1]['id']}")
    assert [r["id"] for r in body["data"]] == [r.id for r in newest[50:]] and body["has_more"] is False


async def test_requests_filters(api):
    for query, keep in [
        ("model=fast", lambda r: r.model == "fast"),
        ("provider=groq", lambda r: r.provider == "groq"),
        ("key=team-a", lambda r: r.key == "team-a"),
        ("outcome=timeout", lambda r: r.outcome == "timeout"),
        ("model=smart&outcome=ok", lambda r: r.model == "smart" and r.outcome == "ok"),
    ]:
        status, body, _ = await api.get(f"/usage/requests?limit=1000&{query}")
        assert status == 200
        assert sorted(r["id"] for r in body["data"]) == sorted(r.id for r in api.recs if keep(r)), query


async def test_one_record_and_an_unknown_one(api):
    rec = api.recs[7]
    status, body, _ = await api.get(f"/usage/requests/{rec.id}")
    assert status == 200 and body == rec.to_dict()
    status, body, _ = await api.get("/usage/requests/req_nope")
    assert status == 404
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["param"] == "id"
    assert "req_nope" in body["error"]["message"]


async def test_summary_matches_a_count(api):
    day = lambda r: time.strftime("%Y-%m-%d", time.gmtime(r.created))  # noqa: E731
    groups = {"day": day, "model": lambda r: r.model, "provider": lambda r: r.provider, "key": lambda r: r.key}
    for group_by, group_of in groups.items():
        status, body, _ = await api.get(f"/usage/summary?group_by={group_by}")
        assert status == 200 and body["object"] == "list"
        assert_rows_match(body["data"], expected_summary(api.recs, group_of))
    status, body, _ = await api.get("/usage/summary")  # day by default
    assert [row["group"] for row in body["data"]] == sorted({day(r) for r in api.recs})


async def test_summary_window_in_every_time_format(api):
    start, end = T0 + DAY, T0 + 2 * DAY
    want = expected_summary([r for r in api.recs if start <= r.created < end], lambda r: r.model)
    iso = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))  # noqa: E731
    isotime = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    for lo, hi in [(int(start), int(end)), (iso(start), iso(end)), (isotime(start), isotime(end))]:
        status, body, _ = await api.get(f"/usage/summary?group_by=model&from={lo}&to={hi}")
        assert status == 200, body
        assert_rows_match(body["data"], want)
    # Records are from 2026-05; a span back from now (December 2026 or later) holds none of them.
    status, body, _ = await api.get("/usage/summary?from=7d")
    assert status == 200 and body["data"] == []


async def test_summary_as_csv(api):
    status, text, response = await api.get("/usage/summary?group_by=model", headers={"Accept": "text/csv"})
    assert status == 200 and response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text)))
    want = expected_summary(api.recs, lambda r: r.model)
    assert list(rows[0]) == ["group", "requests", "errors", "prompt_tokens", "completion_tokens", "cost",
                             "p50_ms", "p95_ms"]  # fmt: skip
    assert {r["group"] for r in rows} == set(want)
    for row in rows:
        exp = want[row["group"]]
        assert int(row["requests"]) == exp["requests"] and int(row["errors"]) == exp["errors"]
        assert int(row["prompt_tokens"]) == exp["prompt_tokens"]
        assert float(row["cost"]) == pytest.approx(exp["cost"], rel=1e-9)
    # a null is an empty cell: the `key` group of records with no key
    status, text, _ = await api.get("/usage/summary?group_by=key", headers={"Accept": "text/csv"})
    assert any(line.startswith(",") for line in text.splitlines())


@pytest.mark.parametrize(
    "query, param",
    [
        ("/usage/requests?limit=0", "limit"),
        ("/usage/requests?limit=1001", "limit"),
        ("/usage/requests?limit=ten", "limit"),
        ("/usage/requests?outcome=fine", "outcome"),
        ("/usage/summary?group_by=hour", "group_by"),
        ("/usage/summary?from=yesterday", "from"),
        ("/usage/summary?to=2026-13-01", "to"),
    ],
)
async def test_a_bad_parameter_answers_400_naming_it(api, query, param):
    status, body, _ = await api.get(query)
    assert status == 400, body
    assert body["error"]["param"] == param and body["error"]["type"] == "invalid_request_error"
    assert param in body["error"]["message"]


async def test_a_read_that_fails_answers_503(api):
    api.sink.path.unlink()  # reads open the file read-only: it is gone
    for suffix in ("-wal", "-shm"):
        api.sink.path.with_name(api.sink.path.name + suffix).unlink(missing_ok=True)
    status, body, _ = await api.get("/usage/summary")
    assert status == 503 and body["error"]["code"] == "usage_unavailable"


def test_parse_time_formats():
    now = 1_800_000_000.0
    assert parse_time("1767225600", "from") == 1767225600.0
    assert parse_time("1767225600.5", "from") == 1767225600.5
    assert parse_time("2026-01-01", "from") == 1767225600.0
    assert parse_time("2026-01-01T01:00:00Z", "from") == 1767229200.0
    assert parse_time("2026-01-01T01:00:00", "from") == 1767229200.0  # no zone: UTC
    assert parse_time("2026-01-01T02:00:00+01:00", "from") == 1767229200.0
    assert parse_time("7d", "from", now) == now - 7 * 86400
    assert parse_time("12h", "from", now) == now - 12 * 3600
    assert parse_time("30m", "from", now) == now - 1800
    assert parse_time("2w", "from", now) == now - 14 * 86400
