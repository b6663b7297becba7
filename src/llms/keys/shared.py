"""The limits shared by every gateway process through Redis (`"limits": {"redis_url": …}`):
the same counters as `LocalLimiter`, kept in Redis and changed by Lua scripts, each one
atomic on the server, so two processes enforce one limit together. Admission is one round
trip (EVALSHA); settling is another, off the request's path. A key's revocation is a flag in
Redis that the admission script checks, so it holds on every replica at once.

All of a key's counters share the hash tag `{key id}` (one Redis Cluster slot per key).

Redis unreachable: requests go on being served with a loud log and `status()["redis"] ==
"down"`, counted per process by the `LocalLimiter` fallback — or refused with
`limits_unavailable` when `fail_closed`. Redis is tried again at most once a second."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .limiter import ADMITTED_FREELY, Decision, LocalLimiter, has_limits, rate_headers, refuse
from .periods import WINDOW, minute, period_bounds, period_id
from .record import ClientKey

log = logging.getLogger("llms.limits")

# KEYS: requests, tokens, spent, reserved, revoked. ARGV: rpm, tpm, budget (<0: none), estimate,
# window ttl, period ttl. Returns {code, requests, tokens}: 0 revoked, 1 rpm, 2 tpm, 3 quota, 4 ok.
ADMIT = """
local rpm, tpm, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[5]) == 1 then return {0, 0, 0} end
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[2]) or '0')
if rpm > 0 and count >= rpm then return {1, count, tokens} end
if tpm > 0 and tokens >= tpm then return {2, count, tokens} end
if budget >= 0 then
  local used = tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(redis.call('GET', KEYS[4]) or '0')
  if used >= budget then return {3, count, tokens} end
  redis.call('INCRBYFLOAT', KEYS[4], ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
if rpm > 0 then
  count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
end
return {4, count, tokens}
"""

# KEYS: tokens, spent, reserved. ARGV: tokens, cost, reserved ('' when no budget), window ttl, period ttl.
SETTLE = """
local tokens = tonumber(ARGV[1])
if tokens > 0 then
  redis.call('INCRBY', KEYS[1], tokens)
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
if ARGV[3] ~= '' then
  redis.call('INCRBYFLOAT', KEYS[3], -tonumber(ARGV[3]))
  redis.call('INCRBYFLOAT', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return 1
"""

CODES = {0: "revoked", 1: "rate_limit_requests", 2: "rate_limit_tokens", 3: "insufficient_quota"}
RETRY_EVERY = 1.0  # seconds between attempts to reach a Redis that was down
SETTLE_EVERY = 0.05  # settlements wait this long, then go in one pipelined round trip


def names(key_id: str, now: float, period: str | None) -> list[str]:
    """The Redis keys of one API key's counters: requests, tokens, spent, reserved, revoked."""
    base = f"llms:{{{key_id}}}"
    w = minute(now)
    p = period or "none"
    return [f"{base}:r:{w}", f"{base}:t:{w}", f"{base}:s:{p}", f"{base}:v:{p}", f"{base}:revoked"]


def period_ttl(key: ClientKey, now: float) -> int:
    """Spend counters outlive their period by a day (a late settle still lands)."""
    assert key.period is not None
    return int(period_bounds(key.period, now)[1] - now) + 86400


POOL_SIZE = 16  # connections to Redis per process
POOL_WAIT = 2.0  # seconds a request may wait for one of them


class SharedLimiter:
    """`SharedLimiter(url)`: the limiter of every process on one Redis; `aclose()` at exit."""

    def __init__(self, url: str, *, fail_closed: bool = False, timeout: float = 0.5, client: Any = None) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.fail_closed = fail_closed
        # A bounded pool that makes a burst wait for a connection (each admission is one short
        # round trip) instead of opening a socket per request: 100 connects at once on a busy
        # machine ran past the connect timeout and read as "Redis is down" (per-process limits).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=0,
        )
        self.redis = client or aioredis.Redis(connection_pool=pool)
        self._admit = self.redis.register_script(ADMIT)
        self._settle = self.redis.register_script(SETTLE)
        self.local = LocalLimiter()
        self.down_since: float | None = None
        self._retry_at = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._settles: list[tuple[Decision, int, float]] = []
        self._errors = _errors()
        from redis.exceptions import NoScriptError

        self._noscript = NoScriptError

    # -- the request's side --------------------------------------------------------------------

    async def admit(self, key: ClientKey, estimate: float = 0.0) -> Decision:
        """Admit or refuse `key`'s request: one Redis round trip, or the fallback."""
        if not has_limits(key) and self.down_since is None:
            return await self._revoked_only(key)
        now = time.time()
        if self.down_since is not None and now < self._retry_at:
            return self._fallback(key, estimate, now)
        try:
            return await self._shared(key, estimate, now)
        except self._errors as e:
            self._down(e)
            return self._fallback(key, estimate, now)

    async def _revoked_only(self, key: ClientKey) -> Decision:
        """A key without limits still has to be checked against the shared revocation flag."""
        try:
            revoked = await self.redis.exists(names(key.id, 0, None)[4])
        except self._errors as e:
            self._down(e)
            return self._fallback(key, 0.0, time.time())
        return Decision("revoked", key_id=key.id) if revoked else ADMITTED_FREELY

    async def _shared(self, key: ClientKey, estimate: float, now: float) -> Decision:
        period = period_id(key.period, now) if key.budget is not None and key.period is not None else None
        budget = key.budget if period is not None else -1
        ttl = int(WINDOW * 2)
        args: list[Any] = [key.rpm or 0, key.tpm or 0, budget, estimate, ttl, period_ttl(key, now) if period else ttl]
        code, requests, tokens = await self._admit(keys=names(key.id, now, period), args=args)
        self._up()
        if code == 0:
            return Decision("revoked", key_id=key.id, shared=True)
        if code != 4:
            d = refuse(key, CODES[code], int(requests), int(tokens), now)  # type: ignore[arg-type]
            d.shared = True
            return d
        headers = rate_headers(key, int(requests), int(tokens), now)
        return Decision(None, None, headers, key.id, period, estimate if period else 0.0, shared=True)

    def _fallback(self, key: ClientKey, estimate: float, now: float) -> Decision:
        if self.fail_closed:
            return Decision("limits_unavailable", retry_after=RETRY_EVERY, key_id=key.id)
        return self.local.check(key, estimate, now)

    def settle(self, decision: Decision, tokens: int | None, cost: float | None) -> None:
        """Count the call's real tokens and cost; never waits. Shared settlements gather for
        SETTLE_EVERY seconds and go to Redis in one pipelined round trip (under load, one for
        many requests)."""
        if not decision.key_id or decision.refusal is not None:
            return
        if not decision.shared:
            self.local.settle(decision, tokens, cost)
            return
        if not tokens and decision.period is None:
            return
        self._settles.append((decision, tokens or 0, cost or 0.0))
        if len(self._settles) == 1:
            task = asyncio.ensure_future(self._settle_soon())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _settle_soon(self) -> None:
        await asyncio.sleep(SETTLE_EVERY)
        batch, self._settles = self._settles, []
        summed: dict[tuple[str, str | None], list[float]] = {}  # one script call per key and period
        for d, tokens, cost in batch:
            s = summed.setdefault((d.key_id, d.period), [0, 0.0, 0.0])
            s[0] += tokens
            s[1] += cost
            s[2] += d.reserved
        now = time.time()
        ttl = int(WINDOW * 2)
        period_ttl_ = 86400 * 33  # the period's own end is not known here: outlive any period
        calls: list[list[Any]] = []
        for (key_id, period), (used, spent, reserved) in summed.items():
            keys = names(key_id, now, period)
            calls.append([keys[1], keys[2], keys[3], int(used), spent, "" if period is None else reserved, ttl,
                          period_ttl_])  # fmt: skip
        try:
            await self._evalsha_all(calls)
        except self._errors as e:
            self._down(e)
            log.error("limits: Redis unreachable, %d settlements (tokens and cost) not counted", len(batch))

    async def _evalsha_all(self, calls: list[list[Any]]) -> None:
        """The settle script once per call, all in one pipelined round trip. Plain EVALSHA (a
        registered script in a pipeline would cost a SCRIPT EXISTS round trip first); the calls
        a Redis without the script (restarted) refused are sent again once it is loaded."""
        sha = self._settle.sha
        for _ in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                for call in calls:
                    pipe.evalsha(sha, 3, *call)
                results = await pipe.execute(raise_on_error=False)
            calls = [c for c, r in zip(calls, results, strict=True) if isinstance(r, self._noscript)]
            if not calls:
                return
            sha = self._settle.sha = await self.redis.script_load(SETTLE)
        log.error("limits: Redis refused the settle script; %d settlements not counted", len(calls))

    # -- set-up, revocation, status ------------------------------------------------------------

    async def seed(self, key: ClientKey, spent: float) -> None:
        """The ledger's spend this period, unless Redis already counts it (SET NX)."""
        self.local.seed_now(key, spent)
        if key.budget is None or key.period is None:
            return
        now = time.time()
        try:
            await self.redis.set(names(key.id, now, period_id(key.period, now))[2], spent, nx=True,
                                 ex=period_ttl(key, now))  # fmt: skip
        except self._errors as e:
            self._down(e)

    async def revoke(self, key_id: str) -> None:
        """Every replica refuses the key from its next request on."""
        await self.redis.set(names(key_id, 0, None)[4], 1)

    def status(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "redis": "down" if self.down_since is not None else "ok",
            "fail_closed": self.fail_closed,
            **({"down_since": self.down_since} if self.down_since is not None else {}),
        }

    def _down(self, error: BaseException) -> None:
        now = time.time()
        if self.down_since is None:
            self.down_since = now
            log.error(
                "limits: Redis at %s is unreachable (%s): %s until it is back",
                _safe(self.url), str(error) or type(error).__name__,
                "refusing keyed requests (fail_closed)" if self.fail_closed else "limits are counted per process",
            )  # fmt: skip
        self._retry_at = now + RETRY_EVERY

    def _up(self) -> None:
        if self.down_since is not None:
            log.error("limits: Redis is back after %.1fs; limits are shared again", time.time() - self.down_since)
            self.down_since = None

    async def aclose(self) -> None:
        if self._tasks:  # the last settlements still go out
            await asyncio.wait(list(self._tasks), timeout=2)
        await self.redis.aclose()


def _errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions as rx

    return (rx.ConnectionError, rx.TimeoutError, OSError, asyncio.TimeoutError)


def _safe(url: str) -> str:
    """The URL without a password, for the log."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
    return url
