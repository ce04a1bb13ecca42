"""Figure 1 of the blog bench: from publishing a post to seeing it in a follower's home.

Its own module because it is timed differently from every other figure: one post at a time,
each from its `POST /v1/posts` until the follower's first home page shows it on top from
Redis, read once the `timelines` and `posts` projections have announced the commit's
position (what the edge waits on for `Quark-After`) rather than by polling the edge in a
tight loop on a two-core machine. `bench.blog` says what it is printed beside.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import aiohttp

from bench.blog_people import publish
from bench.blog_throughput import HOME
from bench.environment import BenchSetupError, Platform
from bench.loadgen import bearer_headers, percentile, rounded
from edge.positions import PositionWatcher
from edge.routes.timelines import SOURCE_HEADER


async def visibility_figure(
    platform: Platform,
    watcher: PositionWatcher,
    author_token: str,
    follower_token: str,
    count: int,
) -> dict[str, Any]:
    """`count` posts by the author, one at a time, each timed from its POST until the
    follower's first home page shows it on top from Redis (see the module docstring)."""
    author = bearer_headers([author_token])[0]
    reader = bearer_headers([follower_token])[0]
    url = f"{platform.base_url}{HOME}?limit=1"
    visible: list[float] = []
    acked: list[float] = []
    reads: list[int] = []
    sources: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            body = json.dumps({"body": f"Visible to my followers, number {n}."}).encode()
            t0 = time.perf_counter()
            post_id, seq = await publish(session, platform.base_url, author, body)
            acked.append((time.perf_counter() - t0) * 1000)
            await watcher.wait("timelines", "CONTENT", seq, 30)
            await watcher.wait("posts", "CONTENT", seq, 30)
            attempts = 0
            while True:
                attempts += 1
                async with session.get(url, headers=reader) as resp:
                    page = await resp.json()
                    source = resp.headers.get(SOURCE_HEADER, "")
                if page["items"] and page["items"][0]["id"] == post_id and "redis" in source:
                    break
                if attempts == 1000:
                    raise BenchSetupError(f"post {post_id} never reached the follower's home")
                sources[f"not yet ({source})"] += 1
                await asyncio.sleep(0.001)
            visible.append((time.perf_counter() - t0) * 1000)
            reads.append(attempts)
            sources[source] += 1
    return {
        "posts": count,
        "visible_p50_ms": rounded(percentile(visible, 50)),
        "visible_p99_ms": rounded(percentile(visible, 99)),
        "visible_max_ms": rounded(max(visible)),
        "post_201_p50_ms": rounded(percentile(acked, 50)),
        "post_201_p99_ms": rounded(percentile(acked, 99)),
        "reads_per_post_max": max(reads),
        "sources": dict(sources),
    }
