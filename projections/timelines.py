"""The `timelines` read model (Redis): each person's home timeline, fanned out on write.

Publishing is one commit whatever the author's audience; this projection, never the command
path, copies the new post into the home timeline of the author and of every follower. The
whole batch is one Lua script inside the runtime's MULTI/EXEC (with the checkpoint), so an
author with 10,000 followers costs one round trip and a few milliseconds of Redis time.

Keys, under the build's keyspace:

- `home:<user>` — sorted set, score = `published_seq` of the post (the cursor key of every
  post list, so a page can continue from Redis into PostgreSQL without skipping or
  repeating), member = `<post_id>:<author_id>` (an unfollow removes an author's entries by
  scanning at most `cap` members). At most `cap` newest entries.
- `recent:<author>` — the author's newest `cap` posts, same members: what a new follower's
  home receives on `Followed`.
- `followers:<author>` — set of followers, kept from the follow events (the fan-out list).
- `floor` — hash `home:<user>` / `recent:<author>` → seq: the sorted set is *exact above
  its floor* (it holds every entry with a larger score that belongs there). Trimming to the
  cap raises the floor to the smallest score kept; a follow raises the home's floor to the
  followee's `recent` floor (older posts of theirs were not copied). Below the floor a
  reader continues in PostgreSQL. With the floors, a read is exact whatever the cap and
  whatever order the two source streams (CONTENT, PEOPLE) were applied in — a live worker
  interleaves them, a replay applies one after the other — so a replay yields the same
  pages even though the keys may differ.

Deletions, edits of the audience and moderation are *not* applied here: the read fetches
the candidates' rows from `posts.posts` and applies `deleted_at`, the audience and the
moderation state there, so they are exact at read time and a post hidden then made visible
again comes back by itself. A deleted post keeps its slot until trimmed (the reader skips
it and reads further).

Every follower gets the fan-out (not only "active" ones): the rule stays a function of the
log, so replay reproduces it, at the cost of memory for people who never read (see
docs/architecture.md, "Timelines").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from core.envelope import RecordedEvent
from core.projection import RedisProjection
from core.projection_redis import RedisSink
from handlers.posts.events import PostPublished
from handlers.profiles.events import Blocked, Followed, Unfollowed

DEFAULT_CAP = 400

# ARGV: keyspace, cap, then operations of four fields each: op, a, b, c.
#   P post author seq — published;  F follower followee _ — followed;
#   U follower followee _ — unfollowed;  B blocker blocked _ — blocked.
_APPLY = """
local ks, cap = ARGV[1], tonumber(ARGV[2])
local floors = ks .. 'floor'

local function raise_floor(name, seq)
  if seq > tonumber(redis.call('HGET', floors, name) or '0') then
    redis.call('HSET', floors, name, seq)
  end
end

local function add(name, seq, member)
  local key = ks .. name
  redis.call('ZADD', key, seq, member)
  local n = redis.call('ZCARD', key)
  if n > cap then
    redis.call('ZREMRANGEBYRANK', key, 0, n - cap - 1)
    raise_floor(name, tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]))
  end
end

local function drop_author(name, author)
  local key = ks .. name
  local suffix = ':' .. author
  local gone = {}
  for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(m, -#suffix) == suffix then gone[#gone + 1] = m end
  end
  for i = 1, #gone, 500 do
    redis.call('ZREM', key, unpack(gone, i, math.min(i + 499, #gone)))
  end
end

for i = 3, #ARGV, 4 do
  local op, a, b, c = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if op == 'P' then
    local seq, member = tonumber(c), a .. ':' .. b
    add('recent:' .. b, seq, member)
    add('home:' .. b, seq, member)
    for _, follower in ipairs(redis.call('SMEMBERS', ks .. 'followers:' .. b)) do
      add('home:' .. follower, seq, member)
    end
  elseif op == 'F' then
    redis.call('SADD', ks .. 'followers:' .. b, a)
    local home = ks .. 'home:' .. a
    redis.call('ZUNIONSTORE', home, 2, home, ks .. 'recent:' .. b, 'AGGREGATE', 'MAX')
    raise_floor('home:' .. a, tonumber(redis.call('HGET', floors, 'recent:' .. b) or '0'))
    local n = redis.call('ZCARD', home)
    if n > cap then
      redis.call('ZREMRANGEBYRANK', home, 0, n - cap - 1)
      raise_floor('home:' .. a, tonumber(redis.call('ZRANGE', home, 0, 0, 'WITHSCORES')[2]))
    end
  elseif op == 'U' then
    redis.call('SREM', ks .. 'followers:' .. b, a)
    drop_author('home:' .. a, b)
  elseif op == 'B' then
    redis.call('SREM', ks .. 'followers:' .. b, a)
    redis.call('SREM', ks .. 'followers:' .. a, b)
    drop_author('home:' .. a, b)
    drop_author('home:' .. b, a)
  end
end
return 0
"""


class TimelinesProjection(RedisProjection):
    name: ClassVar[str] = "timelines"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(
        {PostPublished.name, Followed.name, Unfollowed.name, Blocked.name}
    )

    @property
    def cap(self) -> int:
        return int(getattr(self.settings, "timeline_cap", DEFAULT_CAP))

    def apply(self, pipe: Any, keyspace: str, events: Sequence[RecordedEvent]) -> None:
        # One script for the whole batch: the fan-out needs the followers set, which a
        # MULTI/EXEC pipeline cannot read before it writes, and one EVAL per batch (not per
        # event) keeps a replay's round trips and script bytes per batch constant.
        ops: list[str | int] = []
        for recorded in events:
            match recorded.event:
                case PostPublished() as e:
                    ops += ["P", e.post_id, e.author_id, recorded.seq]
                case Followed() as e:
                    ops += ["F", e.follower_id, e.followee_id, ""]
                case Unfollowed() as e:
                    ops += ["U", e.follower_id, e.followee_id, ""]
                case Blocked() as e:
                    ops += ["B", e.blocker_id, e.blocked_id, ""]
                case _:
                    pass
        if ops:
            pipe.eval(_APPLY, 0, keyspace, self.cap, *ops)


# -- queries ------------------------------------------------------------------------------


class HomeView(msgspec.Struct, frozen=True):
    """What Redis holds of one reader's home: the build's keyspace, the floor (exact above
    it) and the checkpoints the build has reached."""

    keyspace: str
    floor: int
    checkpoints: dict[str, int]


async def home_view(sink: RedisSink, user: str) -> HomeView | None:
    """The reader's materialised home in the active build, or None (no build — Redis lost
    it, or a replay has not switched yet —, or no home for this reader): then PostgreSQL
    answers."""
    active = await sink.active_build()
    if active is None:
        return None
    keyspace = sink.keyspace(active[0])
    async with sink.redis.pipeline(transaction=False) as pipe:
        pipe.exists(f"{keyspace}home:{user}")
        pipe.hget(f"{keyspace}floor", f"home:{user}")
        for stream in sink.streams:
            pipe.get(sink.checkpoint_key(active[0], stream))
        exists, floor, *positions = await pipe.execute()
    if not exists:
        return None
    return HomeView(
        keyspace,
        int(floor or 0),
        {s: int(p or 0) for s, p in zip(sink.streams, positions, strict=True)},
    )


async def home_candidates(
    redis: Any, view: HomeView, user: str, before: int, count: int
) -> list[tuple[str, int]]:
    """Up to `count` (post id, published_seq) of the home, newest first, with
    floor < seq < before."""
    if before <= view.floor + 1:
        return []
    entries = await redis.zrevrangebyscore(
        f"{view.keyspace}home:{user}",
        f"({before}",
        f"({view.floor}",
        start=0,
        num=count,
        withscores=True,
    )
    out = []
    for member, score in entries:
        text = member.decode() if isinstance(member, bytes) else member
        out.append((text.partition(":")[0], int(score)))
    return out
