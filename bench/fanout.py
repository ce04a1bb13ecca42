"""The timelines fan-out, measured: one projection batch holding one post by an author with
`--followers` followers (10,000 by default), applied as the runtime applies it (one
MULTI/EXEC with the checkpoint), against a real Redis. Also the memory of one full home.

    python -m bench.fanout redis://127.0.0.1:6379/0

`python -m bench blog` runs `fanout` beside its publish → visible figure: the Redis share
of that path, measured without the log, the runtime or the edge.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import redis.asyncio as aioredis

from core.envelope import AggregateRef, Envelope, RecordedEvent
from handlers.posts.events import PostPublished
from handlers.profiles.events import Followed
from projections.timelines import TimelinesProjection


class _Settings:
    timeline_cap = 400


def _recorded(event: Any, seq: int) -> RecordedEvent:
    envelope = Envelope(
        id=str(uuid.uuid4()),
        type=event.name,
        schema=1,
        aggregate=AggregateRef("bench.x", str(uuid.uuid4())),
        occurred_at=datetime.now(UTC),
        actor=None,
        correlation_id="bench",
        causation_id="bench",
        payload=msgspec.Raw(b"{}"),
    )
    return RecordedEvent(envelope=envelope, event=event, stream="X", seq=seq, index=0)


async def _batch(r: Any, projection: TimelinesProjection, ks: str, events: list) -> float:
    started = time.perf_counter()
    async with r.pipeline(transaction=True) as pipe:
        projection.apply(pipe, ks, events)
        pipe.set(f"{ks}checkpoint", events[-1].seq)
        await pipe.execute()
    return time.perf_counter() - started


async def fanout(
    url: str, followers: int, *, prefix: str = "bench:fanout:", posts: int = 5
) -> dict[str, Any]:
    """`posts` batches of one post each by an author with `followers` followers (their
    follows applied first, in batches of 5,000), then one follower's home filled to the cap;
    the keys live under `prefix` plus a random part and are deleted at the end.

    Returns:
        The milliseconds of each post's batch (`batch_ms`, their `median_ms`) and the bytes
        and encoding of one full home.
    """
    r = aioredis.from_url(url)
    ks = f"{prefix}{uuid.uuid4().hex[:8]}:"
    projection = TimelinesProjection()
    projection.settings = _Settings()
    author = str(uuid.uuid4())
    now = datetime.now(UTC)
    people = [str(uuid.uuid4()) for _ in range(followers)]
    seq = 0
    try:
        follows = []
        for p in people:
            seq += 1
            follows.append(
                _recorded(Followed(follower_id=p, followee_id=author, followed_at=now), seq)
            )
        for i in range(0, len(follows), 5000):
            await _batch(r, projection, ks, follows[i : i + 5000])
        times = []
        for n in range(posts):
            seq += 1
            post = PostPublished(
                post_id=str(uuid.uuid4()),
                author_id=author,
                title=None,
                body=f"p{n}",
                published_at=now,
            )
            times.append(await _batch(r, projection, ks, [_recorded(post, seq)]) * 1000)
        # A full home: one follower's own `cap` posts.
        home = f"{ks}home:{people[0]}"
        events = [
            _recorded(
                PostPublished(
                    post_id=str(uuid.uuid4()),
                    author_id=people[0],
                    title=None,
                    body="x",
                    published_at=now,
                ),
                seq + k + 1,
            )
            for k in range(_Settings.timeline_cap)
        ]
        await _batch(r, projection, ks, events)
        return {
            "followers": followers,
            "batch_ms": [round(t, 3) for t in times],
            "median_ms": round(sorted(times)[len(times) // 2], 3),
            "full_home_entries": await r.zcard(home),
            "full_home_bytes": await r.memory_usage(home),
            "full_home_encoding": (await r.object("encoding", home)).decode(),
        }
    finally:
        keys = [k async for k in r.scan_iter(match=ks + "*", count=5000)]
        for i in range(0, len(keys), 1000):
            await r.unlink(*keys[i : i + 1000])
        await r.aclose()


async def main(url: str, followers: int) -> None:
    out = await fanout(url, followers)
    print(
        f"one post to {followers:,} followers: {[f'{t:.1f}' for t in out['batch_ms']]} ms per batch"
    )
    print(
        f"one full home ({out['full_home_entries']} entries): {out['full_home_bytes']:,} bytes; "
        f"encoding {out['full_home_encoding']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--followers", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.followers))
