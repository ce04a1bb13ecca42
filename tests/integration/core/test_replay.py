"""Replaying a read model into a new build against real NATS, PostgreSQL and Redis: the new
build is identical to the old, reads never stop, and no live event is lost or applied twice
across the switch to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp
import pytest

from core import replay as replay_mod
from core.bootstrap import Infra
from core.envelope import RecordedEvent
from core.ids import new_id
from core.projection_pg import PgSink
from core.projection_redis import RedisSink
from core.projection_worker import sink_for
from core.replay import ReplayReport, replay
from handlers.posts.commands import DeletePost, EditPost, PublishPost
from projections import posts as posts_projection
from projections.posts import PostsProjection
from tests.support.log import stream_head
from tests.support.platform import Platform
from tests.support.projections import (
    AUTHOR,
    ApplyLog,
    applications,
    apply_log_spec,
    apply_log_worker,
    publish,
    seq_of,
)


@pytest.mark.parametrize("copy_threshold", [500, 1], ids=["insert", "copy"])
async def test_a_replayed_read_model_is_identical_and_reads_never_stop(
    platform: Platform, copy_threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    infra = platform.infra
    ids = []
    last = ""
    for i in range(150):
        post_id = new_id()
        ids.append(post_id)
        last = (
            await infra.bus.send(
                PublishPost(post_id=post_id, title=f"t{i}", body="b"), actor=AUTHOR
            )
        ).position or ""
    for post_id in ids[:40]:
        last = (
            await infra.bus.send(EditPost(post_id=post_id, body="edited"), actor=AUTHOR)
        ).position or ""
    for post_id in ids[40:60]:
        last = (await infra.bus.send(DeletePost(post_id=post_id), actor=AUTHOR)).position or ""
    await platform.wait("posts", last)
    sink = sink_for(PostsProjection(), infra)
    before = await sink.digest()
    build_before = (await sink.active_build() or (0, 0))[0]
    indexes_before = await indexes_of(infra, f"posts__b{build_before}")
    assert len(indexes_before) > 6

    failures: list[str] = []
    reads = 0
    stop = asyncio.Event()

    async def keep_reading() -> None:
        nonlocal reads
        async with aiohttp.ClientSession(base_url=platform.base_url) as http:
            while not stop.is_set():
                async with http.get(f"/v1/posts/{ids[-1]}") as resp:
                    reads += 1
                    if resp.status != 200:
                        failures.append(f"{resp.status} {await resp.text()}")
                async with http.get("/v1/posts?limit=5") as resp:
                    if resp.status != 200 or len((await resp.json())["items"]) != 5:
                        failures.append(f"list {resp.status}")

    reader = asyncio.create_task(keep_reading())
    # With threshold 1 the rebuild writes new rows with COPY (the bulk path of long replays),
    # and must still produce exactly what the live INSERT path produced.
    monkeypatch.setattr(posts_projection, "COPY_THRESHOLD", copy_threshold)
    rendered = count_renderings(monkeypatch)
    small_chunks(monkeypatch, 8)
    # Small batches: a dozen commits, each written while the next is prepared, edits and
    # deletions in other batches than their posts.
    report = await replay_posts(infra, sink, batch_events=16)
    stop.set()
    await reader
    assert failures == []
    assert reads > 0
    # Every body was rendered once, ahead of its batch's transaction (`prepare`), and
    # nothing prepared stays held once applied.
    assert rendered == {"published": 150, "edited": 40}
    assert isinstance(sink.projection, PostsProjection)
    assert sink.projection._prepared and not any(sink.projection._prepared)
    assert report.build == build_before + 1
    assert await sink.digest() == before
    # The indexes the replay built after its bulk load are those of a build made anew.
    assert await indexes_of(infra, f"posts__b{report.build}") == indexes_before
    old_schema = await infra.pool.fetchval(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1",
        f"posts__b{build_before}",
    )
    assert old_schema == 0

    # The live worker carries on in the new build.
    post_id = new_id()
    reply = await infra.bus.send(
        PublishPost(post_id=post_id, title="after replay", body="b"), actor=AUTHOR
    )
    async with aiohttp.ClientSession(base_url=platform.base_url) as http:
        async with http.get(
            f"/v1/posts/{post_id}", headers={"Quark-After": reply.position or ""}
        ) as resp:
            assert resp.status == 200, await resp.text()


async def indexes_of(infra: Infra, schema: str) -> list[str]:
    """The index definitions of a build's schema, its name left out."""
    rows = await infra.pool.fetch(
        "SELECT replace(indexdef, $1, 'build') AS d FROM pg_indexes WHERE schemaname = $1 "
        "ORDER BY d",
        schema,
    )
    return [r["d"] for r in rows]


async def replay_posts(infra: Infra, sink: PgSink, batch_events: int) -> ReplayReport:
    return await replay(
        PostsProjection(),
        sink,
        infra.nc,
        infra.registry,
        infra.decl.file.consumers["posts"],
        infra.settings.nats_url,
        batch_events=batch_events,
    )


def small_chunks(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """The replay reads the stream as it does, handed on in chunks of `size` messages (a
    socket buffer holds a small test's whole log: it would be one batch)."""
    read = replay_mod.read_stream

    async def rechunked(*args: Any, **kwargs: Any) -> AsyncIterator[list[Any]]:
        async for chunk in read(*args, **kwargs):
            for i in range(0, len(chunk), size):
                yield chunk[i : i + size]

    monkeypatch.setattr(replay_mod, "read_stream", rechunked)


def count_renderings(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many bodies the posts read model renders, by the event they come from."""
    counted = {"published": 0, "edited": 0}
    render = posts_projection._rendering

    def counting(e: Any) -> tuple[str | None, str | None]:
        counted["published" if isinstance(e, posts_projection.PostPublished) else "edited"] += 1
        return render(e)

    monkeypatch.setattr(posts_projection, "_rendering", counting)
    return counted


class FailingSink(PgSink):
    """Fails the replay's third bulk batch, as a database that goes away mid-replay."""

    def __init__(self, infra: Infra) -> None:
        super().__init__(PostsProjection(), infra.pool, ["CONTENT"])
        self.batches = 0

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        self.batches += 1
        if self.batches == 3:
            raise ConnectionResetError("the database went away")
        await super().commit(build, stream, events, last_seq, live=live)


async def test_a_batch_that_fails_mid_replay_fails_the_replay_and_the_live_build_stays(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    infra = platform.infra
    last = ""
    for i in range(40):
        last = await publish(infra, f"post {i}")
    await platform.wait("posts", last)
    live = sink_for(PostsProjection(), infra)
    active = await live.active_build()
    sink = FailingSink(infra)
    small_chunks(monkeypatch, 5)
    with pytest.raises(ConnectionResetError, match="went away"):
        await asyncio.wait_for(replay_posts(infra, sink, batch_events=5), 20)
    # No batch was committed after the failed one, and the live build never switched.
    assert sink.batches == 3
    assert await live.active_build() == active


class Writer:
    """Publishes posts one after another, through the handlers, until stopped."""

    def __init__(self, infra: Infra) -> None:
        self.infra = infra
        self.positions: list[str] = []
        self._published = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            position = await publish(self.infra, f"written during the replay {len(self.positions)}")
            async with self._published:
                self.positions.append(position)
                self._published.notify_all()

    async def published(self, more: int) -> None:
        """Until `more` posts more than now are in the log (at once once stopped)."""
        async with self._published:
            target = len(self.positions) + more
            await asyncio.wait_for(
                self._published.wait_for(
                    lambda: len(self.positions) >= target or self._stopping.is_set()
                ),
                10,
            )

    async def stop(self) -> None:
        self._stopping.set()
        await self._task


async def until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll `check` (bounded) for a state nothing announces: a session waiting on a lock."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.01)
    return result


class SwitchUnderWrites(PgSink):
    """The replay's sink, holding the replay at the moments where a switch could lose or
    double live events, so the test does not depend on timing:

    - each bulk batch of the replay waits until the writer has published two more posts:
      commits land in the log after the heads the replay read at its start;
    - before the switch the writer stops and one more post (`before`) is applied by the live
      worker to the old build: the switch's catch-up must bring it into the new build;
    - inside the switch, after the catch-up, one more post (`during`) is published, and the
      switch goes on once the live worker has applied it to the old build or is held by the
      switch's lock. Applied to the old build there, it would be missing from the new one.
    """

    def __init__(self, platform: Platform, writer: Writer) -> None:
        super().__init__(ApplyLog(), platform.infra.pool, ["CONTENT"])
        self.platform = platform
        self.writer = writer
        self.before = self.during = ""
        self.live_worker: str = ""

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        await super().commit(build, stream, events, last_seq, live=live)
        if not live and events:
            await self.writer.published(2)

    async def switch(self, build: int, catch_up: Callable[[], Any]) -> int:
        await self.writer.stop()
        active = await self.active_build()
        assert active is not None
        old_build = active[0]
        self.before = await publish(self.platform.infra, "just before the switch")
        await self.platform.wait(self.name, self.before)

        async def live_worker_applied_or_held() -> str:
            async with self.pool.acquire() as conn:
                applied = await conn.fetchval(
                    "SELECT position FROM quark.checkpoints "
                    "WHERE projection = $1 AND build = $2 AND stream = 'CONTENT'",
                    self.name,
                    old_build,
                )
                if applied >= seq_of(self.during):
                    return "applied to the old build"
                held = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return "held by the switch" if held else ""

        async def catch_up_then_write() -> None:
            await catch_up()
            self.during = await publish(self.platform.infra, "during the switch")
            self.live_worker = await until(
                live_worker_applied_or_held, "the live worker took the post during the switch"
            )

        return await super().switch(build, catch_up_then_write)


async def test_a_replay_under_concurrent_writes_loses_and_doubles_nothing_across_the_switch(
    infra: Infra,
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        live = apply_log_worker(infra)
        live_task = asyncio.create_task(live.run())
        try:
            positions = [await publish(infra, f"p{i}") for i in range(60)]
            await platform.wait("apply_log", positions[-1])
            writer = Writer(infra)
            sink = SwitchUnderWrites(platform, writer)
            report = await replay(
                ApplyLog(),
                sink,
                infra.nc,
                infra.registry,
                apply_log_spec(),
                infra.settings.nats_url,
                batch_events=20,
            )
            assert report.build == 2 and report.previous_build == 1
            assert len(writer.positions) >= 6  # written while the replay read the log

            # Everything the live worker had applied when the switch happened is in the new
            # build: a read at any position it announced finds its commit.
            await platform.wait("apply_log", sink.before)
            switched = await applications(sink)
            head_at_switch = seq_of(sink.before)
            assert {k: n for k, n in switched.items() if k[0] <= head_at_switch} == {
                (seq, 0): 1 for seq in range(1, head_at_switch + 1)
            }
            # So is the post committed during the switch: the live worker waited for the
            # switch instead of applying it to the build being retired, then carried on in
            # the new one.
            await platform.wait("apply_log", sink.during)
            assert (seq_of(sink.during), 0) in await applications(sink), sink.live_worker
            last = await publish(infra, "after the switch")
            await platform.wait("apply_log", last)
        finally:
            live.stop()
            await live_task
        head = await stream_head(infra, "CONTENT")
        assert head == seq_of(last)
        assert await applications(sink) == {(seq, 0): 1 for seq in range(1, head + 1)}


async def test_the_redis_read_model_counts_exactly_and_replays_to_the_same_content(
    platform: Platform,
) -> None:
    infra = platform.infra
    author_b = new_id()
    posts = []
    for i in range(12):
        post_id = new_id()
        posts.append(post_id)
        await infra.bus.send(
            PublishPost(post_id=post_id, title=f"t{i}", body="b"),
            actor=AUTHOR if i % 3 else author_b,
        )
    last = (await infra.bus.send(DeletePost(post_id=posts[1]), actor=AUTHOR)).position or ""
    await platform.wait("author_stats", last)
    async with aiohttp.ClientSession(base_url=platform.base_url) as http:
        async with http.get(f"/v1/authors/{AUTHOR}/stats") as resp:
            assert (await resp.json())["posts"] == 7
        async with http.get(f"/v1/authors/{author_b}/stats") as resp:
            assert (await resp.json())["posts"] == 4
    from projections.author_stats import AuthorStatsProjection

    sink = sink_for(AuthorStatsProjection(), infra)
    before = await sink.digest()
    await replay(
        AuthorStatsProjection(),
        sink,
        infra.nc,
        infra.registry,
        infra.decl.file.consumers["author_stats"],
        infra.settings.nats_url,
    )
    assert await sink.digest() == before


async def test_a_redis_switch_catches_up_again_when_a_live_batch_lands_after_its_catch_up(
    infra: Infra,
) -> None:
    """Redis has no row lock for the live worker to wait on: a live batch applied to the
    old build between the switch's catch-up and the switch itself would be missing from
    the new build. The switch must notice (the old build's checkpoint moved past the new
    one's) and catch up once more before switching."""
    from projections.author_stats import AuthorStatsProjection

    sink = sink_for(AuthorStatsProjection(), infra)
    assert isinstance(sink, RedisSink)
    old = await sink.ensure()
    await sink.commit(old, "CONTENT", [], 10, live=True)
    new = await sink.new_build()
    rounds: list[int] = []

    async def catch_up() -> None:
        rounds.append(len(rounds) + 1)
        head = 10 if len(rounds) == 1 else 12
        await sink.commit(new, "CONTENT", [], head, live=False)
        if len(rounds) == 1:  # the live worker gets a batch in right after the catch-up
            await sink.commit(old, "CONTENT", [], 12, live=True)

    assert await sink.switch(new, catch_up) == old
    assert rounds == [1, 2]
    assert (await sink.active_build() or (0, 0))[0] == new
    assert await sink.checkpoint(new, "CONTENT") == 12
