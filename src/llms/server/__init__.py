"""HTTP: routes, the SSE writer, limits and the error envelope."""

from .app import ServerSettings, make_app

__all__ = ["ServerSettings", "make_app"]
