"""Rate limits in Redis, shared by every edge process (GCRA, the "generic cell rate
algorithm": one key per limited subject holding its theoretical arrival time).

A rule allows `limit` requests per `period` with bursts up to `limit`. One Lua script reads
and updates the key atomically, on Redis's clock, so several edges on several hosts agree.
Anything that costs money or guesses secrets (SMS, login, 2FA codes) goes through here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from core.errors import QuarkError

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


@dataclass(frozen=True)
class Rule:
    """`limit` requests per `period` seconds for one subject (a user, an IP, a phone hash)."""

    name: str
    limit: int
    period: float

    @classmethod
    def parse(cls, name: str, text: str) -> Rule:
        """'5/10min', '30/h', '3/60s' → Rule; the form used in settings and docs."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*", text)
        if not m or m.group(3) not in _UNITS or int(m.group(1)) < 1:
            raise ValueError(f"{text!r} is not a rate such as 5/10min or 30/h")
        return cls(name, int(m.group(1)), int(m.group(2) or 1) * _UNITS[m.group(3)])


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the subject is back to its full allowance.
    reset: float
    #: Seconds until the next request would be allowed (0 when allowed).
    retry_after: float

    def headers(self) -> dict[str, str]:
        """The `RateLimit-*` headers the API conventions require on limited endpoints."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset)),
        }


class RateLimited(QuarkError):
    code = "rate-limited"
    status = 429
    title = "Too many requests"


# KEYS[1] key; ARGV: emission interval (ms), burst tolerance (ms), cost.
# The clock is Redis's own (TIME), so edges with skewed clocks agree.
_GCRA = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance - interval
if allow_at > now then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
local remaining = math.floor((tolerance + interval - (new_tat - now)) / interval)
return {1, remaining, new_tat - now, 0}
"""


class RateLimiter:
    def __init__(self, redis: object, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_GCRA)  # type: ignore[attr-defined]

    async def hit(self, rule: Rule, subject: str, cost: int = 1) -> Decision:
        """Count one request (or `cost`) of `subject` against `rule`."""
        interval = rule.period * 1000 / rule.limit
        tolerance = rule.period * 1000 - interval
        key = f"{self._prefix}rl:{rule.name}:{subject}"
        allowed, remaining, reset_ms, retry_ms = await self._script(
            keys=[key], args=[interval, tolerance, cost]
        )
        return Decision(
            allowed=bool(allowed),
            limit=rule.limit,
            remaining=max(0, int(remaining)),
            reset=max(0.0, float(reset_ms) / 1000),
            retry_after=max(0.0, float(retry_ms) / 1000),
        )

    async def check(self, rule: Rule, subject: str, cost: int = 1) -> Decision:
        """Like `hit`, but raises `RateLimited` (429, Retry-After, RateLimit-*) when over."""
        decision = await self.hit(rule, subject, cost)
        if not decision.allowed:
            raise RateLimited(
                f"{rule.name}: at most {rule.limit} per {rule.period:g} s",
                retry_after=decision.retry_after,
                headers=decision.headers(),
            )
        return decision


# -- lockouts ----------------------------------------------------------------------------------

# KEYS[1] the subject's hash {fails, level, until}; ARGV: op, threshold, base ms, max ms,
# memory ms. Redis's clock. Returns {locked (0/1), ms until unlocked, 1 if this call locked}.
_LOCKOUT = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local op = ARGV[1]
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until') or 0)
if until_ms > now then
  return {1, until_ms - now, 0}
end
if op == 'check' then
  return {0, 0, 0}
end
if op == 'clear' then
  redis.call('HDEL', KEYS[1], 'fails')
  return {0, 0, 0}
end
local memory = tonumber(ARGV[5])
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
if fails >= tonumber(ARGV[2]) then
  local level = redis.call('HINCRBY', KEYS[1], 'level', 1)
  local span = math.min(tonumber(ARGV[3]) * 2 ^ (level - 1), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'until', now + span, 'fails', 0)
  redis.call('PEXPIRE', KEYS[1], math.max(memory, span))
  return {1, span, 1}
end
redis.call('PEXPIRE', KEYS[1], memory)
return {0, 0, 0}
"""


@dataclass(frozen=True)
class LockoutPolicy:
    """After `threshold` failures a subject is locked for `base` seconds; each further
    lockout doubles, up to `maximum`. A subject quiet for `memory` seconds starts over."""

    name: str
    threshold: int
    base: float
    maximum: float
    memory: float = 86_400.0


@dataclass(frozen=True)
class LockState:
    locked: bool
    retry_after: float
    #: This very failure started the lockout (worth a security-log event).
    just_locked: bool = False


class LockedOut(QuarkError):
    code = "locked-out"
    status = 429
    title = "Too many failed attempts; try again later"


class Lockouts:
    """Growing lockouts after repeated failures (login, codes), for accounts and IPs alike.

    Failures of unknown subjects count the same way as known ones, so a lockout never tells
    an attacker that a phone number is registered.
    """

    def __init__(self, redis: object, prefix: str) -> None:
        self._prefix = prefix
        self._script = redis.register_script(_LOCKOUT)  # type: ignore[attr-defined]

    async def _run(self, op: str, policy: LockoutPolicy, subject: str) -> LockState:
        locked, ms, just = await self._script(
            keys=[f"{self._prefix}lock:{policy.name}:{subject}"],
            args=[
                op,
                policy.threshold,
                int(policy.base * 1000),
                int(policy.maximum * 1000),
                int(policy.memory * 1000),
            ],
        )
        return LockState(bool(locked), max(0.0, float(ms) / 1000), bool(just))

    async def state(self, policy: LockoutPolicy, subject: str) -> LockState:
        return await self._run("check", policy, subject)

    async def check(self, policy: LockoutPolicy, subject: str) -> None:
        """Raises `LockedOut` (429 with Retry-After) while `subject` is locked."""
        state = await self._run("check", policy, subject)
        if state.locked:
            raise LockedOut(retry_after=state.retry_after)

    async def failed(self, policy: LockoutPolicy, subject: str) -> LockState:
        return await self._run("fail", policy, subject)

    async def succeeded(self, policy: LockoutPolicy, subject: str) -> None:
        await self._run("clear", policy, subject)
