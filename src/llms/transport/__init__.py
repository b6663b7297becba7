"""The upstream side of the wire: one pooled HTTP client per provider, SSE/NDJSON decoders."""

from .codecs import NDJSONDecoder, SSEDecoder, SSEEvent
from .http import UpstreamClient, UpstreamResponse, retry_after_seconds
from .scrub import Scrubber

__all__ = [
    "NDJSONDecoder",
    "SSEDecoder",
    "SSEEvent",
    "Scrubber",
    "UpstreamClient",
    "UpstreamResponse",
    "retry_after_seconds",
]
