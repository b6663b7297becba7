"""HTTP: routes, the inbound codecs, the stream driver, the error envelope."""

from .app import CHAT, ROUTER, ServerSettings, make_app
from .health import Readiness
from .runtime import Current, Runtime, Services

__all__ = ["CHAT", "ROUTER", "Current", "Readiness", "Runtime", "ServerSettings", "Services", "make_app"]
