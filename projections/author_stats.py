"""The `author_stats` read model (Redis): how many live posts each author has.

Small on purpose: it is the Redis example of the projection runtime (checkpoint in the same
MULTI/EXEC as the writes), and the post counts a profile page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from core.envelope import RecordedEvent
from core.projection import RedisProjection
from handlers.posts.events import PostDeleted, PostPublished


class AuthorStatsProjection(RedisProjection):
    name: ClassVar[str] = "author_stats"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset({PostPublished.name, PostDeleted.name})

    def apply(self, pipe: Any, keyspace: str, events: Sequence[RecordedEvent]) -> None:
        # PostDeleted does not carry the author: the author of every post is kept in a hash
        # inside this read model, so the projection needs nothing but its own keys.
        for recorded in events:
            match recorded.event:
                case PostPublished() as e:
                    pipe.hset(f"{keyspace}post_author", e.post_id, e.author_id)
                    pipe.hincrby(f"{keyspace}author:{e.author_id}", "posts", 1)
                case PostDeleted() as e:
                    # Resolved inside Redis so the batch needs no read before its writes.
                    pipe.eval(_DECREMENT, 1, f"{keyspace}post_author", e.post_id, keyspace)
                case _:
                    pass


_DECREMENT = """
local author = redis.call('HGET', KEYS[1], ARGV[1])
if author then
  redis.call('HINCRBY', ARGV[2] .. 'author:' .. author, 'posts', -1)
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


async def post_count(redis: Any, keyspace: str, author_id: str) -> int:
    value = await redis.hget(f"{keyspace}author:{author_id}", "posts")
    return int(value or 0)
