"""The reliability keys of `llms.json`: `retries`, `breaker`, `concurrency` (top level as the
default for every provider, and per provider), `budget`, `streaming`, `shutdown` and `health`
(top level). Validated here with the same path-named errors as the rest of the schema; the
values stay plain (names match the router's policy fields) and `llms.app` builds the
policies from them, so `config` never imports the router.

    "retries":     {"max": 2, "base_delay": 0.5, "max_delay": 8, "max_wait": 20,
                    "first": false}                                                  or a number (max)
    "breaker":     {"enabled": true, "failures": 5, "error_rate": 0.5, "min_requests": 20,
                    "window": 60, "cooldown": 30, "max_cooldown": 300}                or true/false
    "concurrency": 0                     requests in flight per provider (0: no cap)
    "budget":      600                   seconds per request, all retries and failovers included
    "streaming":   {"keepalive": 15, "write_timeout": 60}
    "shutdown":    {"grace": 30, "delay": 0}   delay: keep serving, not ready, before draining
    "health":      {"grace": 30, "interval": 5}  a required backend (PostgreSQL) unreachable this
                                                 long makes /health/ready 503; checked this often
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# key → kind: "count" (int ≥ 0), "positive" (int ≥ 1), "seconds" (number ≥ 0),
# "duration" (number > 0), "rate" (0 < x ≤ 1), "flag" (boolean)
RETRY_KEYS = {
    "max": "count",
    "base_delay": "seconds",
    "max_delay": "seconds",
    "max_wait": "seconds",
    "first": "flag",
}
BREAKER_KEYS = {
    "enabled": "flag",
    "failures": "positive",
    "error_rate": "rate",
    "min_requests": "positive",
    "window": "duration",
    "cooldown": "duration",
    "max_cooldown": "duration",
}
STREAMING_KEYS = {"keepalive": "seconds", "write_timeout": "duration"}
SHUTDOWN_KEYS = {"grace": "seconds", "delay": "seconds"}
HEALTH_KEYS = {"grace": "seconds", "interval": "duration"}
TOP_LEVEL = frozenset({"retries", "breaker", "concurrency", "budget", "streaming", "shutdown", "health"})
PER_PROVIDER = frozenset({"retries", "breaker", "concurrency"})


@dataclass(slots=True)
class ProviderReliability:
    """One provider's own `retries` / `breaker` / `concurrency`, merged over the defaults."""

    retries: dict[str, Any] = field(default_factory=dict)
    breaker: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 0


@dataclass(slots=True)
class Reliability:
    default: ProviderReliability = field(default_factory=ProviderReliability)
    providers: dict[str, ProviderReliability] = field(default_factory=dict)
    budget: float | None = None  # None: the router's default
    keepalive: float = 15.0  # seconds of silence before an SSE comment frame (0: never)
    write_timeout: float = 60.0  # a client that reads nothing for this long is cut off
    shutdown_grace: float = 30.0  # seconds in-flight requests get on SIGTERM/SIGINT
    # seconds between SIGTERM and closing the listener, answering /health/ready 503 meanwhile,
    # so a load balancer polling readiness takes this replica out before it refuses connections
    shutdown_delay: float = 0.0
    health_grace: float = 30.0  # a required backend failing this long turns readiness false
    health_interval: float = 5.0  # seconds between backend checks


def parse_reliability(c: Any, root: dict[str, Any]) -> Reliability:
    """The top-level keys and every provider's overrides (`c` is the schema's checker)."""
    default = _provider_part(c, root, "", ProviderReliability())
    out = Reliability(default=default)
    if "budget" in root:
        out.budget = c.number(root["budget"], "budget")
    streaming = _section(c, root.get("streaming", {}), "streaming", STREAMING_KEYS)
    out.keepalive = streaming.get("keepalive", out.keepalive)
    out.write_timeout = streaming.get("write_timeout", out.write_timeout)
    shutdown = _section(c, root.get("shutdown", {}), "shutdown", SHUTDOWN_KEYS)
    out.shutdown_grace = shutdown.get("grace", out.shutdown_grace)
    out.shutdown_delay = shutdown.get("delay", out.shutdown_delay)
    health = _section(c, root.get("health", {}), "health", HEALTH_KEYS)
    out.health_grace = health.get("grace", out.health_grace)
    out.health_interval = health.get("interval", out.health_interval)
    providers = root.get("providers")
    if isinstance(providers, dict):
        for name, entry in providers.items():
            if isinstance(entry, dict) and PER_PROVIDER & entry.keys():
                out.providers[name] = _provider_part(c, entry, f"providers.{name}.", default)
    return out


def _provider_part(c: Any, obj: dict[str, Any], prefix: str, base: ProviderReliability) -> ProviderReliability:
    retries, breaker = dict(base.retries), dict(base.breaker)
    if "retries" in obj:
        value = obj["retries"]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = {"max": value}
        retries.update(_section(c, value, f"{prefix}retries", RETRY_KEYS))
    if "breaker" in obj:
        value = obj["breaker"]
        if isinstance(value, bool):
            value = {"enabled": value}
        breaker.update(_section(c, value, f"{prefix}breaker", BREAKER_KEYS))
    concurrency = base.concurrency
    if "concurrency" in obj:
        concurrency = int(_value(c, obj["concurrency"], f"{prefix}concurrency", "count"))
    return ProviderReliability(retries, breaker, concurrency)


def _section(c: Any, value: Any, where: str, keys: dict[str, str]) -> dict[str, Any]:
    obj = c.obj(value, where)
    out: dict[str, Any] = {}
    for key, v in obj.items():
        kind = keys.get(key)
        if kind is None:
            raise c.fail(f"{where}.{key}", f"unknown key (expected one of {', '.join(keys)})")
        out[key] = _value(c, v, f"{where}.{key}", kind)
    return out


def _value(c: Any, v: Any, where: str, kind: str) -> Any:
    if kind == "flag":
        if not isinstance(v, bool):
            raise c.fail(where, "expected true or false")
        return v
    n = c.number(v, where, positive=False)
    if kind in ("count", "positive"):
        if n != int(n) or n < (1 if kind == "positive" else 0):
            raise c.fail(where, f"expected a whole number of at least {1 if kind == 'positive' else 0}, got {v}")
        return int(n)
    if kind == "rate" and not 0 < n <= 1:
        raise c.fail(where, f"expected a number above 0 and at most 1, got {v}")
    if kind == "duration" and n <= 0:
        raise c.fail(where, f"expected a number of seconds above 0, got {v}")
    if n < 0:
        raise c.fail(where, f"expected a number of seconds of at least 0, got {v}")
    return n
