"""HTTP: routes, the SSE writer, limits and the error envelope."""

from .app import ServerSettings, make_app
from .health import Readiness

__all__ = ["Readiness", "ServerSettings", "make_app"]
