"""Fetching the image URLs of a request for dialects that only take inline images — the
opt-in `"fetch_image_urls"` of a native provider entry — without letting a request make the
gateway a proxy into the network it runs in (SSRF).

    "fetch_image_urls": true
    "fetch_image_urls": {"allow_hosts": ["images.internal", "10.1.0.0/16"], "max_images": 8}

- Every address a host name resolves to must be public (not loopback, private, link-local,
  multicast, unspecified, reserved or shared), unless the host or the address is listed
  in `allow_hosts` (names, IP addresses or networks). The connection goes to the address
  that was checked: the check lives in the connector's resolver, and that client caches
  no lookups, so a second, rebinding answer cannot slip in between check and connect. An
  IP literal in the URL is checked the same way before anything is sent.
- No redirects (the transport refuses 3xx), no automatic decompression (an encoded answer
  is refused), the body is read as a stream and cut at MAX_IMAGE_BYTES.
- At most `max_images` image URLs per request; each is fetched once per request, not once
  per attempt: the result is kept for the request's lifetime (its router `Deadline`), so
  failing over to another native provider does not fetch again.
- Errors say which image ("cannot fetch image 2"), never what the network answered
  (no address, no port, no DNS or socket error): a request must not map the network.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from ..core.deadline import Deadline, current_deadline
from ..core.errors import InvalidRequest, UpstreamError
from ..core.types import Timeouts
from ..transport import UpstreamClient
from ..transport.http import BodyTooLarge
from .base import ProviderConfigInvalid

MAX_IMAGE_BYTES = 20 << 20
DEFAULT_MAX_IMAGES = 8
KEY = "fetch_image_urls"
# An image fetch never waits longer than this, whatever the provider's own timeouts.
FETCH_TIMEOUTS = Timeouts(connect=10.0, first_byte=30.0, idle=30.0, total=60.0)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Which targets besides public addresses may be fetched, and how many per request."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    max_images: int = DEFAULT_MAX_IMAGES

    def allows(self, host: str, address: str) -> bool:
        """May `host`, resolved to `address`, be fetched?"""
        if host.lower().strip("[]") in self.hosts:
            return True
        try:
            ip: Address = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.networks):
            return True
        return ip.is_global and not ip.is_multicast


def parse_policy(value: Any) -> FetchPolicy | None:
    """`fetch_image_urls` from a provider entry: None when it is off."""
    if value is None or value is False:
        return None
    if value is True:
        return FetchPolicy()
    if not isinstance(value, dict):
        raise ProviderConfigInvalid(KEY, "expected true, false or an object")
    unknown = set(value) - {"allow_hosts", "max_images"}
    if unknown:
        raise ProviderConfigInvalid(KEY, f"unknown key {sorted(unknown)[0]!r} (expected allow_hosts, max_images)")
    hosts: set[str] = set()
    networks: list[Network] = []
    allow = value.get("allow_hosts", [])
    if not isinstance(allow, list) or not all(isinstance(h, str) and h for h in allow):
        raise ProviderConfigInvalid(KEY, "allow_hosts: expected an array of host names, addresses or networks")
    for entry in allow:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.lower())
    count = value.get("max_images", DEFAULT_MAX_IMAGES)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ProviderConfigInvalid(KEY, "max_images: expected a whole number of at least 1")
    return FetchPolicy(frozenset(hosts), tuple(networks), count)


class VettingResolver(AbstractResolver):
    """Resolves as aiohttp would, then refuses the lookup unless every address is allowed;
    the connector connects only to addresses this returned."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._inner: ThreadedResolver | None = None  # made inside the running loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = ThreadedResolver()
        found = await self._inner.resolve(host, port, family)
        if not found or not all(self.policy.allows(host, r["host"]) for r in found):
            raise OSError(f"{host} is not an allowed image host")
        return found

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


# The images fetched for the request in flight: (its Deadline, url → data URI part).
_fetched: ContextVar[tuple[Deadline | None, dict[str, dict[str, Any]]] | None] = ContextVar(
    "llms_fetched_images", default=None
)


def _request_cache() -> dict[str, dict[str, Any]]:
    """The cache of this request: the router sets one `Deadline` per request, so a new one
    means a new request (an attempt of the same request finds the images already there)."""
    deadline = current_deadline.get()
    held = _fetched.get()
    if held is None or deadline is None or held[0] is not deadline:
        held = (deadline, {})
        _fetched.set(held)
    return held[1]


def _remote_url(part: Any) -> str | None:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return None
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


class ImageFetcher:
    """One provider's image fetching: its policy and its own client (vetting resolver, no
    decompression, no connection pool shared with the provider's upstream)."""

    def __init__(self, provider: str, policy: FetchPolicy) -> None:
        self.policy = policy
        self.client = UpstreamClient(
            f"{provider} image fetch",
            resolver=VettingResolver(policy),
            decompress=False,
            max_body=MAX_IMAGE_BYTES,
            foreign=True,
        )

    @classmethod
    def from_config(cls, provider: str, value: Any) -> ImageFetcher | None:
        policy = parse_policy(value)
        return None if policy is None else cls(provider, policy)

    async def inline(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request with every http(s) image URL replaced by a data URI of the image."""
        messages = request.get("messages")
        if not isinstance(messages, list):
            return request
        urls = [
            url
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("content"), list)
            for url in map(_remote_url, m["content"])
            if url is not None
        ]
        if not urls:
            return request
        if len(urls) > self.policy.max_images:
            raise InvalidRequest(
                f"too many image URLs ({len(urls)}): at most {self.policy.max_images} per request are fetched",
                param="messages",
                code="too_many_images",
            )
        cache = _request_cache()
        number = 0
        out = []
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, list) and any(_remote_url(p) for p in content):
                parts = []
                for part in content:
                    url = _remote_url(part)
                    if url is not None:
                        number += 1
                        if url not in cache:
                            cache[url] = await self._fetch(url, number)
                        part = _with_detail(cache[url], part)
                    parts.append(part)
                m = {**m, "content": parts}
            out.append(m)
        return {**request, "messages": out}

    async def _fetch(self, url: str, number: int) -> dict[str, Any]:
        cannot = InvalidRequest(f"cannot fetch image {number}", param="messages", code="image_fetch_failed")
        try:
            host = URL(url).host or ""
        except ValueError:
            raise cannot from None
        if _is_ip(host) and not self.policy.allows(host, host):
            raise cannot
        headers = {"Accept": "image/*", "Accept-Encoding": "identity"}
        try:
            async with self.client.open("GET", url, body=None, headers=headers, timeouts=FETCH_TIMEOUTS) as r:
                if r.status >= 400:
                    raise cannot
                mime = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if not mime.startswith("image/"):
                    raise InvalidRequest(
                        f"image {number} is not an image ({mime or 'no Content-Type'})", param="messages"
                    )
                if r.headers.get("Content-Encoding", "identity").lower() != "identity":
                    raise InvalidRequest(f"image {number} came compressed, which is not accepted", param="messages")
                data = await r.read()
        except BodyTooLarge:
            raise InvalidRequest(f"image {number} is over {MAX_IMAGE_BYTES >> 20} MiB", param="messages") from None
        except UpstreamError:
            raise cannot from None
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{base64.b64encode(data).decode()}"}}

    async def aclose(self) -> None:
        await self.client.aclose()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _with_detail(fetched: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    spec = part.get("image_url")
    if isinstance(spec, dict) and "detail" in spec:
        return {"type": "image_url", "image_url": {**fetched["image_url"], "detail": spec["detail"]}}
    return fetched
