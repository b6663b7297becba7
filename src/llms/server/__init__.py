"""HTTP: routes, the inbound codecs, the stream driver, the error envelope."""

from .app import CHAT, ROUTER, ServerSettings, make_app
from .runtime import Current, Runtime, Services

__all__ = ["CHAT", "ROUTER", "Current", "Runtime", "ServerSettings", "Services", "make_app"]
