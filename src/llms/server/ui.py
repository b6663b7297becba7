"""The chat UI's files (`src/llms/ui/`): `GET /` and `GET /ui/<path>`, with fixed content types
(`.js` must be `text/javascript` for ES modules whatever the host's mimetypes table says), an ETag
plus `no-cache` so a new package version is picked up at once and an unchanged file costs a 304,
gzip for text, and a Content-Security-Policy that keeps every request on the gateway."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aiohttp import web

from ..core.errors import NotFound

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE files
}

# The UI talks only to the gateway that served it; images may be data:/blob: URIs (attachments).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(slots=True, frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str
    mtime: float


def ui_root() -> Path:
    return Path(str(resources.files("llms").joinpath("ui")))


class UiAssets:
    """Serves files below `root`, read once and kept in memory until their mtime changes."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or ui_root()).resolve()
        self._cache: dict[Path, Asset] = {}

    @property
    def has_index(self) -> bool:
        return (self.root / "index.html").is_file()

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._respond(request, self.root / "index.html")

    async def asset(self, request: web.Request) -> web.StreamResponse:
        return self._respond(request, self._resolve(request.match_info["path"]))

    def _resolve(self, rel: str) -> Path:
        parts = rel.split("/")
        # NUL and other control characters name no file (and make the OS calls raise).
        if any(p in ("", ".", "..") or p.startswith(".") or "\\" in p or not p.isprintable() for p in parts):
            raise NotFound(f"No UI file {rel!r}")
        path = self.root.joinpath(*parts).resolve()
        if not path.is_relative_to(self.root) or not path.is_file() or path.suffix not in CONTENT_TYPES:
            raise NotFound(f"No UI file {rel!r}")
        return path

    def _load(self, path: Path) -> Asset:
        mtime = path.stat().st_mtime
        cached = self._cache.get(path)
        if cached is not None and cached.mtime == mtime:
            return cached
        body = path.read_bytes()
        content_type = CONTENT_TYPES[path.suffix]
        compressible = content_type.startswith(("text/", "application/json", "image/svg"))
        gzipped = gzip.compress(body, 6, mtime=0) if compressible and len(body) > 1024 else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        asset = Asset(body, gzipped, etag, content_type, mtime)
        self._cache[path] = asset
        return asset

    def _respond(self, request: web.Request, path: Path) -> web.Response:
        asset = self._load(path)
        headers = {
            "ETag": asset.etag,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Vary": "Accept-Encoding",
        }
        if asset.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        body = asset.body
        if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = asset.content_type
        if asset.content_type.startswith("text/html"):  # `/` and `/ui/index.html` alike
            headers["Content-Security-Policy"] = CSP
            headers["Referrer-Policy"] = "no-referrer"
        return web.Response(body=body, headers=headers)
