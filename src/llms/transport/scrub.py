"""Keeping a provider's credentials out of everything an upstream says.

Some upstreams echo the credentials they received (`Invalid API key: Bearer sk-…`). Every
text the gateway takes from an upstream reaches it as an `UpstreamError` leaving the
provider's `UpstreamClient.open()`, so that is the one place it is scrubbed: the client
knows its provider's secrets, and every consumer (the client's error envelope, `/status`'s
`breaker.last_failure`, the log) then gets clean text.

A secret is each resolved `api_key`, each header value whose name says it holds a credential
(`Authorization`, `x-api-key`, `x-goog-api-key`, `api-key`, `*token*`, `cookie`, …) and each
such query parameter of the base URL — as sent, URL-encoded, and without an auth scheme
(`Bearer`, `Basic` and the decoded `user:password` of the latter), and as a server that
form-decodes a query string would print it. Strings shorter than
MIN_SECRET are not treated as secrets: dummy keys of local servers (`none`, `ollama`) would
only garble messages.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus, urlsplit

from yarl import URL

from ..core.errors import GatewayError

MIN_SECRET = 8
REDACTED = "[redacted]"
# Header and query parameter names whose values are credentials.
CREDENTIAL_NAME = re.compile(r"auth|key|token|secret|password|cookie|signature|credential", re.IGNORECASE)


class Scrubber:
    """Replaces each known secret in a text by `[redacted]` (longest first, so a key inside
    a longer header value goes with it)."""

    __slots__ = ("secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for secret in secrets:
            for variant in _variants(secret):
                if len(variant) >= MIN_SECRET:
                    found.add(variant)
        self.secrets = sorted(found, key=len, reverse=True)

    @classmethod
    def for_provider(cls, api_key: str | None, headers: Mapping[str, str], base_url: str | None) -> Scrubber:
        """The secrets of one provider entry: its key, credential headers and URL parameters."""
        secrets = [api_key or ""]
        secrets += [v for k, v in headers.items() if CREDENTIAL_NAME.search(k)]
        if base_url:
            secrets += [v for k, v in parse_qsl(urlsplit(base_url).query) if CREDENTIAL_NAME.search(k)]
            userinfo = urlsplit(base_url).password
            secrets.append(userinfo or "")
        return cls(secrets)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def error(self, error: GatewayError) -> GatewayError:
        """`error` with its message, code and param scrubbed (in place; returned for `raise`)."""
        if self.secrets:
            error.message = self.text(error.message)
            error.args = (error.message,)
            if isinstance(error.code, str):
                error.code = self.text(error.code)
            if isinstance(error.param, str):
                error.param = self.text(error.param)
        return error


def _variants(secret: str) -> list[str]:
    """The forms in which a secret may come back: as sent, URL-encoded, without its auth
    scheme, and a Basic credential decoded."""
    out = [secret]
    scheme, _, credential = secret.strip().partition(" ")
    if credential:
        out.append(credential.strip())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                decoded = ""
            out += [decoded, decoded.partition(":")[2]]
    encoded = [quote(v, safe="") for v in out] + [quote_plus(v) for v in out] + [unquote_plus(v) for v in out]
    # ...and as yarl (aiohttp's URL type) puts it on the wire: it re-quotes a query (`%2F` → `/`)
    wire = [URL("http://h/?k=" + quote(v, safe="")).raw_query_string[2:] for v in out]
    return out + encoded + wire
