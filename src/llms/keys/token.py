"""Client API keys as text: `sk-llms-<prefix>_<secret>`. The prefix (8 hex characters) is
stored in clear to find the key's row; the secret (256 random bits) is stored only as its
SHA-256 and compared in constant time.

Why a fast hash: slow hashes (bcrypt, scrypt, argon2) exist to make guessing a *low-entropy*
password expensive. A 256-bit random secret cannot be guessed at any hash speed, so a stolen
table of SHA-256 digests reveals nothing usable, while a slow hash would add tens of
milliseconds to every request (GitHub, Stripe and OpenAI keys are handled the same way)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "sk-llms-"
PREFIX_LEN = 8
_HEX = frozenset("0123456789abcdef")


def digest(secret: str) -> str:
    """What the database keeps of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A fresh key: (the full key to show once, its lookup prefix, the digest to store)."""
    prefix = secrets.token_hex(PREFIX_LEN // 2)
    secret = secrets.token_urlsafe(32)
    return f"{SCHEME}{prefix}_{secret}", prefix, digest(secret)


def parse(presented: str) -> tuple[str, str] | None:
    """(prefix, secret) of a key in our format, else None (no lookup needed to refuse it)."""
    if not presented.startswith(SCHEME) or len(presented) < len(SCHEME) + PREFIX_LEN + 2:
        return None
    prefix = presented[len(SCHEME) : len(SCHEME) + PREFIX_LEN]
    if presented[len(SCHEME) + PREFIX_LEN] != "_" or not _HEX.issuperset(prefix):
        return None
    return prefix, presented[len(SCHEME) + PREFIX_LEN + 1 :]


def matches(secret: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(digest(secret), stored_digest)
