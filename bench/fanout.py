"""The timelines fan-out, measured: one projection batch holding one post by an author with
`--followers` followers (10,000 by default), applied as the runtime applies it (one
MULTI/EXEC with the checkpoint), against a real Redis. Also the memory of one full home.

    python -m bench.fanout redis://127.0.0.1:6379/0
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


async def main(url: str, followers: int) -> None:
    r = aioredis.from_url(url)
    ks = f"bench:fanout:{uuid.uuid4().hex[:8]}:"
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
        for n in range(5):
            seq += 1
            post = PostPublished(
                post_id=str(uuid.uuid4()),
                author_id=author,
                title=None,
                body=f"p{n}",
                published_at=now,
            )
            times.append(await _batch(r, projection, ks, [_recorded(post, seq)]))
        print(
            f"one post to {followers:,} followers: {[f'{t * 1000:.1f}' for t in times]} ms per batch"
        )
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
            for k in range(400)
        ]
        await _batch(r, projection, ks, events)
        print(
            f"one full home ({await r.zcard(home)} entries): "
            f"{await r.memory_usage(home):,} bytes; encoding {(await r.object('encoding', home)).decode()}"
        )
    finally:
        keys = [k async for k in r.scan_iter(match=ks + "*", count=5000)]
        for i in range(0, len(keys), 1000):
            await r.unlink(*keys[i : i + 1000])
        await r.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--followers", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.followers))
