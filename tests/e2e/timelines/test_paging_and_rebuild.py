"""Timelines past the Redis cap, under concurrent publishing, after Redis lost them and
through replays: pages stay exact, never skip, never repeat.

The cap is small here (`CAP`), so every walk crosses from Redis into PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.projection_worker import sink_for
from core.settings import Settings
from projections.timelines import TimelinesProjection
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient
from tests.support.log import stored_messages
from tests.support.moderation import moderate_post
from tests.support.platform import Platform
from tests.support.timelines import (
    HOME,
    PUBLIC,
    person,
    publish,
    relate,
    settled,
    walk,
)

CAP = 6


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(timeline_cap=CAP)


async def test_past_the_cap_pages_continue_from_postgresql(
    client: IdentityClient, platform: Platform
) -> None:
    author, early, late = [await person(client, h) for h in ("author_c", "early_c", "late_c")]
    await relate(client, early, "POST follow", author)
    everything, by_author = [], []
    for i in range(3 * CAP):
        by_author.append((await publish(client, author, f"post {i}"))["id"])
        everything.append(by_author[-1])
        if i % 4 == 0:
            everything.append((await publish(client, early, f"early {i}"))["id"])
    # `late` follows once the author's recent posts are full: the older ones are not copied.
    await relate(client, late, "POST follow", author)
    last = await settled(platform)
    for who, expected in ((early, everything), (late, by_author)):
        for limit in (1, 4, 100):
            sources: list[str] = []
            ids = await walk(client, HOME, who["token"], after=last, limit=limit, sources=sources)
            assert ids == list(reversed(expected)), (who["handle"], limit)
            assert sources[0].startswith("redis"), sources
            assert any("postgres" in s for s in sources), sources


async def test_paging_while_others_publish_neither_skips_nor_repeats(
    client: IdentityClient, platform: Platform
) -> None:
    reader = await person(client, "reader_p")
    authors = [await person(client, f"author_p{i}") for i in range(3)]
    for author in authors:
        await relate(client, reader, "POST follow", author)
    existing = [(await publish(client, authors[i % 3], f"old {i}"))["id"] for i in range(4 * CAP)]
    last = await settled(platform)
    publishing = True
    published: list[str] = []

    async def keep_publishing() -> None:
        i = 0
        while publishing:
            published.append((await publish(client, authors[i % 3], f"new {i}"))["id"])
            i += 1

    writer = asyncio.create_task(keep_publishing())
    try:
        seen = await walk(client, HOME, reader["token"], after=last, limit=3)
    finally:
        publishing = False
        await writer
    assert len(published) > 0
    assert len(seen) == len(set(seen)), "a post was repeated"
    assert set(existing) <= set(seen), "a post was skipped"
    # Whatever new posts a walk met, it met them in the timeline's order.
    final = await walk(client, HOME, reader["token"], after=await settled(platform))
    assert set(final) == set(existing) | set(published)
    assert seen == [p for p in final if p in set(seen)]


async def _delete_timelines(settings: Settings) -> int:
    """Everything Redis held of the timelines read model (builds, checkpoints, the active
    build), as a Redis restart without persistence would lose it; how many keys."""
    r = aioredis.from_url(settings.redis_url)
    try:
        keys = [
            k
            for pattern in ("timelines:*", "proj:timelines:*")
            async for k in r.scan_iter(match=settings.redis_prefix + pattern, count=1000)
        ]
        if keys:
            await r.unlink(*keys)
        return len(keys)
    finally:
        await r.aclose()


async def _partial_build(platform: Platform) -> None:
    """An active timelines build with every follow but only the older half of the posts,
    as the live worker leaves it while it rebuilds from the start of the log."""
    projection = TimelinesProjection()
    sink = sink_for(projection, platform.infra)
    build = await sink.ensure()
    registry = platform.infra.registry
    for stream in ("PEOPLE", "CONTENT"):
        msgs = await stored_messages(platform.infra, stream)
        if stream == "CONTENT":
            msgs = msgs[: len(msgs) // 2]
        events = [
            e for m in msgs for e in registry.recorded(m.data, stream, m.seq, projection.consumes)
        ]
        await sink.commit(build, stream, events, msgs[-1].seq, live=False)
    space = sink.keyspace(build)
    assert [k async for k in platform.infra.redis.scan_iter(match=f"{space}home:*")]


async def _homes(
    client: IdentityClient, people: list[dict[str, Any]], last: str, sources: list[str]
) -> str:
    """A digest of every page of everyone's home and of the public timeline."""
    pages = {
        p["handle"]: await walk(client, HOME, p["token"], after=last, limit=4, sources=sources)
        for p in people
    }
    pages["(public)"] = await walk(client, PUBLIC, None, after=last, limit=4)
    return hashlib.sha256(json.dumps(pages, sort_keys=True).encode()).hexdigest()


async def test_timelines_lost_by_redis_answer_from_postgresql_and_a_replay_restores_them(
    client: IdentityClient,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = [await person(client, f"someone_r{i}") for i in range(4)]
    a, b, c, d = people
    for follower, followee in ((a, b), (a, c), (b, a), (c, a), (d, a), (d, b)):
        await relate(client, follower, "POST follow", followee)
    for i in range(2 * CAP):
        await publish(client, people[i % 4], f"post {i}")
    await publish(client, b, "for followers", visibility="followers")
    gone = await publish(client, c, "to be deleted")
    hidden = await publish(client, a, "to be hidden")
    await client.call("DELETE", f"/v1/posts/{gone['id']}", c["token"])
    await settled(platform)
    await moderate_post(platform.infra, hidden["id"], "hidden")
    await relate(client, d, "POST block", b)
    await relate(client, c, "DELETE follow", a)
    last = await settled(platform)
    sources: list[str] = []
    before = await _homes(client, people, last, sources)
    assert any(s.startswith("redis") for s in sources), sources

    assert await _delete_timelines(settings) > 0
    sources = []
    assert await _homes(client, people, last, sources) == before
    assert set(sources) == {"postgres"}
    # A build that is being rebuilt from the log holds homes, but not all of them yet:
    # PostgreSQL still answers until the build has caught up.
    await _partial_build(platform)
    sources = []
    assert await _homes(client, people, last, sources) == before
    assert set(sources) == {"postgres"}

    # Replays of every read model the timelines read, while a reader keeps reading.
    use_settings(monkeypatch, settings)
    monkeypatch.setenv("QUARK_TIMELINE_CAP", str(CAP))
    replaying = True
    answers: list[int] = []

    async def keep_reading() -> None:
        while replaying:
            answers.append(len(await walk(client, HOME, a["token"], after=last)))

    reader = asyncio.create_task(keep_reading())
    try:
        for name in ("timelines", "posts", "follows"):
            assert await run_quark("replay", name) == 0
    finally:
        replaying = False
        await reader
    assert answers and len(set(answers)) == 1, answers
    sources = []
    assert await _homes(client, people, await settled(platform), sources) == before
    assert any(s.startswith("redis") for s in sources), sources
