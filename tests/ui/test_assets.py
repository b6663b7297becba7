"""How the gateway serves the UI: the page with its Content-Security-Policy, every file with the
right type (ES modules need text/javascript), ETag revalidation, gzip, no path escapes, and the
default model in /status. Plain HTTP, no browser."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "src" / "llms" / "ui"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_index_has_a_strict_csp_and_loads_modules_from_ui(ui_gateway):
    status, headers, body = get(ui_gateway.url + "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    csp = headers["content-security-policy"]
    assert "connect-src 'self'" in csp and "script-src 'self'" in csp and "default-src 'self'" in csp
    assert b'src="/ui/js/main.js"' in body
    assert not re.search(rb"https?://", body), "the page must not reference any other host"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("js/main.js", "text/javascript"),
        ("vendor/marked/marked.esm.js", "text/javascript"),
        ("css/app.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
        ("vendor/marked/LICENSE", "text/plain"),
    ],
)
def test_files_are_served_with_their_type(ui_gateway, path, kind):
    status, headers, body = get(f"{ui_gateway.url}/ui/{path}")
    assert status == 200
    assert headers["content-type"].startswith(kind)
    assert headers["x-content-type-options"] == "nosniff"
    assert body == (UI / path).read_bytes()


def test_etag_revalidation_and_gzip(ui_gateway):
    url = ui_gateway.url + "/ui/vendor/highlight/highlight.min.js"
    status, headers, body = get(url)
    assert headers["cache-control"] == "no-cache" and headers["etag"]
    status, _, again = get(url, {"If-None-Match": headers["etag"]})
    assert status == 304 and again == b""
    status, zipped_headers, zipped = get(url, {"Accept-Encoding": "gzip"})
    assert zipped_headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped) == body and len(zipped) < len(body) / 2


@pytest.mark.parametrize(
    "path", ["../server/app.py", "..%2F..%2Fpyproject.toml", ".hidden", "js/", "nope.js", "js/../../app.py"]
)
def test_nothing_outside_the_ui_folder(ui_gateway, path):
    status, headers, _ = get(f"{ui_gateway.url}/ui/{path}")
    assert status == 404


def test_every_module_import_and_asset_reference_exists():
    checked, missing = 0, []
    for js in UI.rglob("*.js"):
        if "vendor" in js.parts:
            continue
        for spec in re.findall(r"""(?:import|export)[^'";]*?from\s+['"]([^'"]+)['"]""", js.read_text()):
            checked += 1
            if not (js.parent / spec).resolve().is_file():
                missing.append(f"{js.relative_to(UI)} → {spec}")
    for ref in re.findall(r'(?:src|href)="/ui/([^"]+)"', (UI / "index.html").read_text()):
        checked += 1
        if not (UI / ref).is_file():
            missing.append(f"index.html → {ref}")
    assert missing == []
    assert checked > 30  # the pattern really found the imports


def test_status_tells_the_ui_the_default_model(ui_gateway):
    _, _, body = get(ui_gateway.url + "/status")
    assert json.loads(body)["default_model"] == "chat"


def test_vendored_libraries_keep_their_licences():
    versions = (UI / "vendor" / "VERSIONS").read_text()
    for lib in ("marked", "dompurify", "highlight", "uplot"):
        assert (UI / "vendor" / lib / "LICENSE").is_file()
    assert "marked" in versions and "dompurify" in versions and "highlightjs" in versions and "uplot" in versions
