"""The projection runtime against real NATS and PostgreSQL: exactly-once effect across
crashes, dead letters, replay into a new build while reads go on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import pytest

from core.bootstrap import Infra
from core.envelope import RecordedEvent
from core.ids import new_id
from core.projection import PgSink, ProjectionWorker, replay
from core.runner import sink_for
from handlers.posts.commands import DeletePost, EditPost, PublishPost
from projections import posts as posts_projection
from projections.posts import PostsProjection
from tests.support.platform import Platform
from tests.support.projections import ApplyLog, apply_log_spec

AUTHOR = new_id()


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so no retry logic catches it."""


class DiesOnce(PgSink):
    """The worker dies at its first live batch: before applying it (`after_commit=False`:
    events pulled but never applied) or right after committing it (before the ack)."""

    def __init__(self, *args: object, after_commit: bool) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.after_commit = after_commit
        self.died = False

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        dies = live and bool(events) and not self.died
        if dies and not self.after_commit:
            self.died = True
            raise Killed()
        await super().commit(build, stream, events, last_seq, live=live)
        if dies:
            self.died = True
            raise Killed()


def apply_log_worker(infra: Infra, sink: PgSink | None = None) -> ProjectionWorker:
    projection = ApplyLog()
    return ProjectionWorker(
        projection=projection,
        sink=sink or PgSink(projection, infra.pool, ["CONTENT"]),
        nc=infra.nc,
        registry=infra.registry,
        spec=apply_log_spec(),
        nats_url=infra.settings.nats_url,
        retry_base_delay=0.01,
    )


async def publish(infra: Infra, title: str = "hello") -> str:
    reply = await infra.bus.send(PublishPost(post_id=new_id(), title=title, body="b"), actor=AUTHOR)
    assert reply.position
    return reply.position


async def test_a_projection_killed_between_write_and_ack_applies_nothing_twice(
    infra: Infra,
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        positions = [await publish(infra, f"p{i}") for i in range(20)]
        crashing = apply_log_worker(
            infra, DiesOnce(ApplyLog(), infra.pool, ["CONTENT"], after_commit=True)
        )
        task = asyncio.create_task(crashing.run())
        done, _ = await asyncio.wait([task], timeout=10)
        assert task in done and isinstance(task.exception(), Killed)
        # The crash left the whole first batch written but unacknowledged.
        applied = await infra.pool.fetchval("SELECT count(*) FROM apply_log.applied")
        assert applied > 0

        # ack_wait is 30 s: the restart must not wait for the server to redeliver what the
        # dead worker had pulled; it resumes from its checkpoint at once.
        restarted = apply_log_worker(infra)
        task = asyncio.create_task(restarted.run())
        try:
            positions.append(await publish(infra, "after restart"))
            await platform.wait("apply_log", positions[-1], timeout=5)
        finally:
            restarted.stop()
            await task
    rows = await infra.pool.fetch("SELECT seq, times FROM apply_log.applied ORDER BY seq")
    assert len(rows) == 21
    assert all(r["times"] == 1 for r in rows)


async def test_a_worker_dying_with_pulled_unapplied_events_loses_none_of_them(
    infra: Infra,
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        for i in range(20):
            await publish(infra, f"p{i}")
        dying = apply_log_worker(
            infra, DiesOnce(ApplyLog(), infra.pool, ["CONTENT"], after_commit=False)
        )
        task = asyncio.create_task(dying.run())
        done, _ = await asyncio.wait([task], timeout=10)
        assert task in done and isinstance(task.exception(), Killed)
        assert await infra.pool.fetchval("SELECT count(*) FROM apply_log.applied") == 0

        # The 20 events are delivered-but-unacknowledged on the server (ack_wait 30 s). The
        # next worker must start from its checkpoint, not run ahead of them with newer ones.
        restarted = apply_log_worker(infra)
        task = asyncio.create_task(restarted.run())
        try:
            last = await publish(infra, "after restart")
            await platform.wait("apply_log", last, timeout=5)
        finally:
            restarted.stop()
            await task
    rows = await infra.pool.fetch("SELECT times FROM apply_log.applied")
    assert len(rows) == 21
    assert all(r["times"] == 1 for r in rows)


async def test_a_poison_event_goes_to_the_dead_letter_stream_and_the_projection_goes_on(
    infra: Infra,
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        worker = apply_log_worker(infra)
        task = asyncio.create_task(worker.run())
        try:
            await publish(infra, "fine")
            poison = await publish(infra, "poison pill")
            last = await publish(infra, "fine again")
            await platform.wait("apply_log", last, timeout=15)
        finally:
            worker.stop()
            await task
    applied = await infra.pool.fetchval("SELECT count(*) FROM apply_log.applied")
    assert applied == 2
    js = infra.nc.jetstream()
    dead = await js.get_last_msg("DLQ", "dlq.apply_log.CONTENT")
    assert dead.headers is not None
    assert dead.headers["Quark-Seq"] == poison.split(":")[1]
    assert "PoisonError" in dead.headers["Quark-Error"]
    assert "poison pill" in dead.headers["Quark-Error"]


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
    report = await replay(
        PostsProjection(),
        sink,
        infra.nc,
        infra.registry,
        infra.decl.file.consumers["posts"],
        infra.settings.nats_url,
    )
    stop.set()
    await reader
    assert failures == []
    assert reads > 0
    assert report.build == build_before + 1
    assert await sink.digest() == before
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


class FlakyDatabase(PgSink):
    """Stands for PostgreSQL going away for a moment: the first commits cannot connect."""

    failures_left = 4

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        if live and self.failures_left:
            self.failures_left -= 1
            raise ConnectionRefusedError("PostgreSQL is restarting")
        await super().commit(build, stream, events, last_seq, live=live)


async def test_an_infrastructure_outage_dead_letters_nothing_and_the_worker_comes_back(
    infra: Infra,
) -> None:
    from core.runner import Workers

    async with Platform(infra, edge=False, projection_names=[]) as platform:
        positions = [await publish(infra, f"p{i}") for i in range(5)]
        worker = apply_log_worker(infra, FlakyDatabase(ApplyLog(), infra.pool, ["CONTENT"]))
        supervisor = asyncio.create_task(Workers(infra)._supervise(worker))
        try:
            await platform.wait("apply_log", positions[-1], timeout=30)
        finally:
            worker.stop()
            await supervisor
    assert await infra.pool.fetchval("SELECT count(*) FROM apply_log.applied") == 5
    info = await infra.nc.jetstream().stream_info("DLQ")
    assert info.state.messages == 0
