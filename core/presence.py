"""Presence (online / last seen) in Redis, shared by every edge process.

Presence is an ephemeral signal (DESIGN §5): it is never written to the event log, and
losing Redis loses nothing but who is online right now and when people were last seen.

A person is online while at least one of their websocket connections is open on any edge.
Each person has one sorted set, `<prefix>presence:<user_id>`:

- one member per open connection, `c:<conn_id>`, scored with the moment (ms since the
  epoch) the connection stops counting unless its edge refreshes it. Edges refresh their
  open connections every `heartbeat` seconds (TTL / 2.5), so one late heartbeat does not
  flap a person offline, while the connections of an edge process that died expire on
  their own within one TTL;
- one member `seen`, scored with the moment the person was last seen (their last
  connection closed). It is never in the future, so it never counts as a connection.

Why a sorted set and not one key per connection with its own TTL: one key per person makes
every change a single-key script (atomic, one round trip, cluster-safe), and an expired
connection is still *there* after its expiry: its score is when the person was last seen,
so a dead edge's people get a last-seen time of about its expiry without any sweeper. A
reader therefore never needs to write: online is "a `c:` member scored after now", last
seen is the latest score among `seen` and the expired connections. Writers (connect,
disconnect) fold expired connections into `seen` as they pass, so sets stay small.

All times come from Redis's clock (`TIME`), like the rate limits': edges with skewed clocks
agree on who is online. The sets carry no TTL: last seen lasts until the person goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec

#: Default time a connection counts without a refresh (seconds; QUARK_PRESENCE_TTL_SECONDS).
DEFAULT_TTL = 75.0

# Shared by the scripts: the clock, and folding expired connections into `seen`.
# KEYS[1] the person's set. Returns nothing; leaves `now` (ms) in a global.
_PRELUDE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function fold(key)
  local old = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'WITHSCORES')
  local latest = nil
  for i = 1, #old, 2 do
    if old[i] ~= 'seen' then
      redis.call('ZREM', key, old[i])
      local at = tonumber(old[i + 1])
      if latest == nil or at > latest then latest = at end
    end
  end
  if latest ~= nil then
    -- GT still adds a missing member: `seen` becomes the latest of the two.
    redis.call('ZADD', key, 'GT', latest, 'seen')
  end
end
local function live(key)
  return redis.call('ZCOUNT', key, '(' .. now, '+inf')
end
"""

# ARGV: member, ttl (ms). Returns 1 when the person just came online.
_CONNECTED = (
    _PRELUDE
    + """
fold(KEYS[1])
local before = live(KEYS[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if before == 0 then return 1 end
return 0
"""
)

# ARGV: member. Returns 1 when the person just went offline (this was their last open
# connection, even one whose refresh was late: it was open until now).
_DISCONNECTED = (
    _PRELUDE
    + """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
fold(KEYS[1])
if removed == 1 and live(KEYS[1]) == 0 then
  redis.call('ZADD', KEYS[1], now, 'seen')
  return 1
end
return 0
"""
)

# KEYS: the sets of the connections (repeated for a person's several connections);
# ARGV[1] ttl (ms), then one member per key. Returns the 1-based indexes of the connections
# the sets no longer hold (closed meanwhile, or expired and folded).
_REFRESH = (
    _PRELUDE
    + """
local lost = {}
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if redis.call('ZSCORE', key, ARGV[i + 1]) then
    redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  else
    table.insert(lost, i)
  end
end
return lost
"""
)


class PresenceState(msgspec.Struct, frozen=True):
    """`last_seen` is None while the person is online, and for someone never seen."""

    online: bool
    last_seen: datetime | None


def _at(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Presence:
    """Who is online, for the websocket gateway (writes) and the presence routes (reads).

    Args:
        redis: the shared `redis.asyncio` client.
        prefix: `QUARK_REDIS_PREFIX`.
        ttl: seconds a connection counts without a refresh; tests use a tiny one.
    """

    def __init__(self, redis: object, prefix: str, *, ttl: float = DEFAULT_TTL) -> None:
        if ttl <= 0:
            raise ValueError("the presence TTL must be positive")
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1, round(ttl * 1000))
        register = redis.register_script  # type: ignore[attr-defined]
        self._connected = register(_CONNECTED)
        self._disconnected = register(_DISCONNECTED)
        self._refresh = register(_REFRESH)

    @property
    def heartbeat(self) -> float:
        """How often (seconds) each edge should call `refresh` for its open connections."""
        return self._ttl_ms / 1000 / 2.5

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}presence:{user_id}"

    @staticmethod
    def _member(conn_id: str) -> str:
        # Prefixed, so no connection id can ever be taken for the `seen` member.
        return f"c:{conn_id}"

    async def connected(self, user_id: str, conn_id: str) -> bool:
        """Count a newly opened connection; True when the person just came online (tell
        their watchers)."""
        came = await self._connected(
            keys=[self._key(user_id)], args=[self._member(conn_id), self._ttl_ms]
        )
        return bool(came)

    async def disconnected(self, user_id: str, conn_id: str) -> bool:
        """Forget a closed connection; True when it was the person's last one: they just
        went offline, last seen now (tell their watchers)."""
        went = await self._disconnected(keys=[self._key(user_id)], args=[self._member(conn_id)])
        return bool(went)

    async def refresh(
        self, user_ids_and_conn_ids: Iterable[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """Keep an edge's open connections counting for another TTL, in one round trip.

        Returns:
            The (user id, connection id) pairs Redis no longer held: the edge stalled for a
            whole TTL and they expired, or they closed meanwhile. For a connection still
            open the edge calls `connected` again (which says whether its person came back
            online); a closed one needs nothing.
        """
        pairs = list(user_ids_and_conn_ids)
        if not pairs:
            return []
        lost = await self._refresh(
            keys=[self._key(u) for u, _ in pairs],
            args=[self._ttl_ms, *(self._member(c) for _, c in pairs)],
        )
        return [pairs[int(i) - 1] for i in lost]

    async def states(self, user_ids: Iterable[str]) -> dict[str, PresenceState]:
        """Presence of each of `user_ids` as of Redis's clock, in one round trip (read only:
        expired connections count as gone without being removed)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        pipe = self._redis.pipeline(transaction=True)  # type: ignore[attr-defined]
        pipe.time()
        for user_id in ids:
            pipe.zrange(self._key(user_id), 0, -1, withscores=True)
        seconds_micros, *sets = await pipe.execute()
        now = seconds_micros[0] * 1000 + seconds_micros[1] // 1000
        out: dict[str, PresenceState] = {}
        for user_id, members in zip(ids, sets, strict=True):
            online = False
            latest: float | None = None
            for member, score in members:
                name = member.decode() if isinstance(member, bytes) else member
                if name != "seen" and score > now:
                    online = True
                    break
                latest = score if latest is None else max(latest, score)
            out[user_id] = PresenceState(
                online=online, last_seen=None if online or latest is None else _at(latest)
            )
        return out
