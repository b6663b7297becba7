"""The typed form of `llms.json` (llms.py's v2 format) and its validation.

`parse_config(data, source)` turns the decoded JSON into `Config` or raises `ConfigError`
naming the file, the JSON path and the reason (`providers.groq.models: expected an object`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.types import MAX_UPSTREAM_BODY, MAX_UPSTREAM_EVENT, ProviderConfig, Timeouts
from .access import Access, parse_access
from .edge import Edge, parse_edge
from .reliability import PER_PROVIDER, TOP_LEVEL, Reliability, parse_reliability
from .telemetry import TelemetrySettings, parse_telemetry
from .usage import UsageSettings, parse_usage

# Request parameters a provider entry may set as defaults; a client's own value wins.
REQUEST_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "reasoning_effort",
        "enable_thinking",
        "frequency_penalty",
        "presence_penalty",
        "verbosity",
        "service_tier",
        "parallel_tool_calls",
    }
)
# Keys of a provider entry that describe the provider itself.
PROVIDER_KEYS = frozenset(
    {"enabled", "type", "base_url", "api_key", "models", "pricing", "default_pricing", "headers", "timeouts", "check"}
    | PER_PROVIDER
)
TOP_LEVEL_KEYS = (
    frozenset({"auth", "defaults", "limits", "convert", "providers", "timeouts", "usage", "cors", "server"})
    | {"telemetry"}
    | TOP_LEVEL
)
TIMEOUT_KEYS = ("connect", "first_byte", "idle", "total")
DEFAULT_MAX_SIZE = 20 * 1024 * 1024
_ENV_REF = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


class ConfigError(Exception):
    """A bad `llms.json`: says which file, where in it and why."""

    def __init__(self, source: str, where: str, reason: str) -> None:
        self.source, self.where, self.reason = source, where, reason
        super().__init__(f"{source}: {where}: {reason}" if where else f"{source}: {reason}")


@dataclass(slots=True)
class Config:
    source: str
    providers: dict[str, ProviderConfig]
    client_max_size: int = DEFAULT_MAX_SIZE
    timeouts: Timeouts = field(default_factory=Timeouts)
    default_headers: dict[str, str] = field(default_factory=dict)
    default_model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    reliability: Reliability = field(default_factory=Reliability)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    access: Access = field(default_factory=Access)
    usage: UsageSettings = field(default_factory=UsageSettings)
    edge: Edge = field(default_factory=Edge)  # cors, server, auth


def resolve_secret(value: str, env: dict[str, str] | os._Environ[str]) -> tuple[str | None, str | None]:
    """`"$NAME"` → (value of NAME or None, "NAME"); a literal → (literal, None)."""
    m = _ENV_REF.match(value)
    if not m:
        return value, None
    return env.get(m.group(1)) or None, m.group(1)


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, reason: str) -> ConfigError:
        return ConfigError(self.source, where, reason)

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {_kind(value)}")
        return value

    def str_map(self, value: Any, where: str) -> dict[str, str]:
        for k, v in self.obj(value, where).items():
            if not isinstance(v, str):
                raise self.fail(f"{where}.{k}", f"expected a string, got {_kind(v)}")
        return dict(value)

    def number(self, value: Any, where: str, *, positive: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a number, got {_kind(value)}")
        if positive and value <= 0:
            raise self.fail(where, f"expected a number above 0, got {value}")
        return float(value)

    def timeouts(self, value: Any, where: str, base: Timeouts) -> Timeouts:
        obj = self.obj(value, where)
        for key in obj:
            if key not in TIMEOUT_KEYS:
                raise self.fail(f"{where}.{key}", f"unknown timeout (expected one of {', '.join(TIMEOUT_KEYS)})")
        vals = {k: self.number(obj[k], f"{where}.{k}") if k in obj else getattr(base, k) for k in TIMEOUT_KEYS}
        return Timeouts(**vals)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def parse_config(data: Any, source: str, env: dict[str, str] | os._Environ[str] | None = None) -> Config:
    """Validate decoded `llms.json` data into a `Config`."""
    env = os.environ if env is None else env
    c = _Checker(source)
    root = c.obj(data, "")
    ignored = [k for k in root if k not in TOP_LEVEL_KEYS]
    limits = c.obj(root.get("limits", {}), "limits")
    max_size = DEFAULT_MAX_SIZE
    if "client_max_size" in limits:
        max_size = int(c.number(limits["client_max_size"], "limits.client_max_size"))
    upstream: dict[str, int] = {
        key: int(c.number(limits[key], f"limits.{key}")) for key in ("upstream_body", "upstream_event") if key in limits
    }
    timeouts = Timeouts()
    if "client_timeout" in limits:
        timeouts = Timeouts(total=c.number(limits["client_timeout"], "limits.client_timeout"))
    if "timeouts" in root:
        timeouts = c.timeouts(root["timeouts"], "timeouts", timeouts)
    defaults = c.obj(root.get("defaults", {}), "defaults")
    headers = c.str_map(defaults.get("headers", {}), "defaults.headers")
    text = c.obj(defaults.get("text", {}), "defaults.text")
    default_model = text.get("model") if isinstance(text.get("model"), str) else None
    if "providers" not in root:
        raise c.fail("providers", "missing (expected an object of providers)")
    providers = {
        name: _parse_provider(c, name, entry, timeouts, headers, env, upstream)
        for name, entry in c.obj(root["providers"], "providers").items()
    }
    return Config(
        source=source,
        providers=providers,
        client_max_size=max_size,
        timeouts=timeouts,
        default_headers=headers,
        default_model=default_model,
        raw=root,
        ignored=ignored,
        reliability=parse_reliability(c, root),
        telemetry=parse_telemetry(c, root),
        access=parse_access(c, root, env),
        usage=parse_usage(c, root, env),
        edge=parse_edge(c, root),
    )


def _parse_provider(
    c: _Checker,
    name: str,
    entry: Any,
    timeouts: Timeouts,
    default_headers: dict[str, str],
    env: dict[str, str] | os._Environ[str],
    upstream_limits: Mapping[str, int],
) -> ProviderConfig:
    where = f"providers.{name}"
    e = c.obj(entry, where)
    if not isinstance(e.get("type"), str) or not e["type"]:
        raise c.fail(f"{where}.type", 'missing (expected a provider type such as "OpenAiProvider")')
    enabled = e.get("enabled", True)
    if not isinstance(enabled, bool):
        raise c.fail(f"{where}.enabled", f"expected true or false, got {_kind(enabled)}")
    base_url = e.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not re.match(r"^https?://", base_url)):
        raise c.fail(f"{where}.base_url", "expected an http:// or https:// URL")
    api_key = api_key_env = None
    if e.get("api_key") is not None:
        if not isinstance(e["api_key"], str):
            raise c.fail(f"{where}.api_key", f"expected a string, got {_kind(e['api_key'])}")
        api_key, api_key_env = resolve_secret(e["api_key"], env)
    pricing = c.obj(e.get("pricing", {}), f"{where}.pricing")
    default_pricing = e.get("default_pricing")
    if default_pricing is not None:
        c.obj(default_pricing, f"{where}.default_pricing")
    headers = dict(default_headers)
    for k, v in c.str_map(e.get("headers", {}), f"{where}.headers").items():
        headers[k] = resolve_secret(v, env)[0] or ""
    return ProviderConfig(
        name=name,
        type=e["type"],
        enabled=enabled,
        base_url=base_url.rstrip("/") if base_url else None,
        api_key=api_key,
        api_key_env=api_key_env,
        models=c.str_map(e.get("models", {}), f"{where}.models"),
        pricing=pricing,
        default_pricing=default_pricing,
        headers=headers,
        params={k: v for k, v in e.items() if k in REQUEST_PARAMS},
        timeouts=c.timeouts(e["timeouts"], f"{where}.timeouts", timeouts) if "timeouts" in e else timeouts,
        extra={k: v for k, v in e.items() if k not in PROVIDER_KEYS and k not in REQUEST_PARAMS},
        max_body=upstream_limits.get("upstream_body", MAX_UPSTREAM_BODY),
        max_event=upstream_limits.get("upstream_event", MAX_UPSTREAM_EVENT),
    )
