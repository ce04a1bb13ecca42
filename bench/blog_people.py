"""Who is who in the blog bench, set up through the real log as fast as it goes.

The authors of figure 1, the feed authors, the readers (the clients of figures 2 and 4) and
the rest of the large author's audience (`People`). The follows are `Follow` commands
carried out in this process by the profiles handler's own procedure (`follow_all`): the
commits a handler worker appends, without the HTTP and NATS hops the figures do not
measure. The posts that fill every reader's home to the cap are published through the edge
(`fill_homes`), as figure 1 publishes its own (`publish`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from bench.blog_throughput import CLIENTS
from bench.environment import BenchSetupError, Platform
from bench.kernel_commands import HTTP_BODY
from bench.loadgen import bearer_headers
from core.bootstrap import Infra
from core.commands import CommandMeta, parse_position
from core.envelope import utc_now
from core.ids import new_id
from core.permissions import USER
from handlers.profiles.commands import Follow
from handlers.profiles.procedures import follow

#: Authors whose posts fill each reader's home to the cap (400, `QUARK_TIMELINE_CAP`).
FEED_AUTHORS = 8
HOME_CAP = 400
FEW_FOLLOWERS = 10


@dataclass(frozen=True)
class People:
    """Who is who: the two authors of figure 1, the feed authors, the 64 readers (each
    follows every feed author and both figure-1 authors; the first 10 are the small
    author's whole audience) and the rest of the large author's audience."""

    big: str
    small: str
    feed: list[str]
    readers: list[str]
    others: list[str]

    @classmethod
    def make(cls, followers: int) -> People:
        def ids(n: int) -> list[str]:
            return [str(uuid.uuid4()) for _ in range(n)]

        return cls(ids(1)[0], ids(1)[0], ids(FEED_AUTHORS), ids(CLIENTS), ids(followers - CLIENTS))

    def follows(self) -> list[tuple[str, str]]:
        """(follower, followee) of every follow the run makes."""
        pairs = [(r, a) for r in self.readers for a in self.feed]
        pairs += [(f, self.big) for f in self.readers + self.others]
        pairs += [(r, self.small) for r in self.readers[:FEW_FOLLOWERS]]
        return pairs


async def follow_all(
    infra: Infra, pairs: Sequence[tuple[str, str]], concurrency: int
) -> dict[str, float]:
    """Every (follower, followee) as a `Follow` command carried out by the profiles handler's
    procedure in this process, `concurrency` at once: the commits a handler worker appends,
    without the HTTP and NATS request hops that the figures do not measure."""
    todo = iter(pairs)
    started = time.perf_counter()

    async def worker() -> None:
        for follower, followee in todo:
            meta = CommandMeta(
                command_id=new_id(),
                actor=follower,
                roles=frozenset({USER}),
                correlation_id=new_id(),
                received_at=utc_now(),
            )
            await follow(infra, Follow(target_id=followee), meta)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {
        "follows": len(pairs),
        "seconds": round(seconds, 2),
        "per_s": round(len(pairs) / seconds),
    }


async def publish(
    session: aiohttp.ClientSession, base_url: str, headers: dict[str, str], body: bytes
) -> tuple[str, int]:
    """`POST /v1/posts`; the new post's id and its commit's CONTENT sequence."""
    async with session.post(f"{base_url}/v1/posts", data=body, headers=headers) as resp:
        text = await resp.text()
        if resp.status != 201:
            raise BenchSetupError(f"POST /v1/posts answered {resp.status}: {text[:200]}")
        _, seq = parse_position(resp.headers["Quark-Position"])
        return json.loads(text)["id"], seq


async def fill_homes(
    platform: Platform, people: People, tokens: dict[str, str], say: Callable[[str], None]
) -> str:
    """Each feed author publishes `HOME_CAP / FEED_AUTHORS` posts through the edge (so every
    reader's home holds the cap), then the large author the hot post of figure 4; its id."""
    per_author = HOME_CAP // FEED_AUTHORS
    say(f"publishing {per_author * FEED_AUTHORS} posts of {FEED_AUTHORS} authors (the homes)")
    async with aiohttp.ClientSession() as session:

        async def author(user: str) -> None:
            headers = bearer_headers([tokens[user]])[0]
            for n in range(per_author):
                body = json.dumps({"title": f"Post {n}", "body": f"Feed post {n} by {user}."})
                await publish(session, platform.base_url, headers, body.encode())

        await asyncio.gather(*(author(a) for a in people.feed))
        hot, _ = await publish(
            session, platform.base_url, bearer_headers([tokens[people.big]])[0], HTTP_BODY
        )
    return hot
