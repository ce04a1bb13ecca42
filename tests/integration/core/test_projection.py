"""The projection runtime against real NATS, PostgreSQL and Redis: exactly-once effect across
crashes and repeated commits, one writer per projection, dead letters, replay into a new
build while reads and writes go on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import pytest

from core.bootstrap import Infra
from core.commands import parse_position
from core.envelope import RecordedEvent
from core.ids import new_id
from core.projection import BuildSwitched, Sink
from core.projection_pg import PgSink
from core.projection_redis import RedisSink
from core.projection_worker import ProjectionWorker, sink_for
from core.replay import replay
from handlers.posts.commands import DeletePost, EditPost, PublishPost
from projections import posts as posts_projection
from projections.posts import PostsProjection
from tests.support.log import stream_head
from tests.support.platform import Platform
from tests.support.projections import ApplyLog, RedisApplyLog, applications, apply_log_spec

AUTHOR = new_id()
#: Where a read model and its checkpoint live; the kernel promises the same for both.
KINDS = ["postgres", "redis"]


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so no retry logic catches it."""


class AmbiguousCommit(Exception):
    """A commit whose call failed after its transaction went through: the caller cannot
    know whether it did."""


class DiesOnce:
    """Mixed into a sink: the worker dies at its first live batch, before applying it
    (`after_commit=False`: events pulled but never applied) or right after committing it
    (before the ack)."""

    def __init__(self, *args: Any, after_commit: bool) -> None:
        super().__init__(*args)
        self.after_commit = after_commit
        self.died = False

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        dies = live and bool(events) and not self.died
        if dies and not self.after_commit:
            self.died = True
            raise Killed()
        await super().commit(build, stream, events, last_seq, live=live)  # type: ignore[misc]
        if dies:
            self.died = True
            raise Killed()


class FailsAfterCommit:
    """Mixed into a sink: its first live batch commits, then the call fails anyway, with an
    error the worker does not take for an outage. The worker cannot tell the batch went
    through and tries its events again one by one (as it does to isolate a failing event),
    so events already applied come back to the sink."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.failed = False

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        await super().commit(build, stream, events, last_seq, live=live)  # type: ignore[misc]
        if live and events and not self.failed:
            self.failed = True
            raise AmbiguousCommit("the commit was not confirmed")


class Recording:
    """Mixed into a sink: remembers the live batches it was asked to commit (their last
    sequence) and tells when its worker asked to lead."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.committed: list[int] = []
        self.asked_to_lead = asyncio.Event()

    async def leadership(self) -> Any:
        self.asked_to_lead.set()
        return await super().leadership()  # type: ignore[misc]

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        if live and events:
            self.committed.append(last_seq)
        await super().commit(build, stream, events, last_seq, live=live)  # type: ignore[misc]


def apply_log_sink(infra: Infra, kind: str, behaviour: type | None = None, **options: Any) -> Any:
    """An apply-log sink in PostgreSQL or Redis, with `behaviour` (a mixin above) if given."""
    base: type[Sink] = PgSink if kind == "postgres" else RedisSink
    cls = (
        base
        if behaviour is None
        else type(behaviour.__name__ + base.__name__, (behaviour, base), {})
    )
    if kind == "postgres":
        return cls(ApplyLog(), infra.pool, ["CONTENT"], **options)
    return cls(RedisApplyLog(), infra.redis, ["CONTENT"], infra.settings.redis_prefix, **options)


def apply_log_worker(infra: Infra, sink: Sink | None = None) -> ProjectionWorker:
    sink = sink or apply_log_sink(infra, "postgres")
    return ProjectionWorker(
        projection=sink.projection,
        sink=sink,
        nc=infra.nc,
        registry=infra.registry,
        spec=apply_log_spec(),
        nats_url=infra.settings.nats_url,
        retry_base_delay=0.01,
    )


def watched(platform: Platform, sink: Sink) -> str:
    """The name `platform.wait` knows the sink's projection by (a Redis checkpoint is not
    in PostgreSQL: tell the watcher where it is)."""
    if isinstance(sink, RedisSink):

        async def checkpoint(stream: str) -> int | None:
            active = await sink.active_build()
            return 0 if active is None else await sink.checkpoint(active[0], stream)

        platform.watcher.checkpoint_source(sink.name, checkpoint)
    return sink.projection.name


async def publish(infra: Infra, title: str = "hello") -> str:
    reply = await infra.bus.send(PublishPost(post_id=new_id(), title=title, body="b"), actor=AUTHOR)
    assert reply.position
    return reply.position


def seq_of(position: str) -> int:
    return parse_position(position)[1]


def once_each(*positions: str) -> dict[tuple[int, int], int]:
    """What an apply log holds when each of these commits (one event each) was applied once."""
    return {(seq_of(p), 0): 1 for p in positions}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_projection_killed_between_write_and_ack_applies_nothing_twice(
    infra: Infra, kind: str
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        positions = [await publish(infra, f"p{i}") for i in range(20)]
        crashing = apply_log_worker(infra, apply_log_sink(infra, kind, DiesOnce, after_commit=True))
        task = asyncio.create_task(crashing.run())
        done, _ = await asyncio.wait([task], timeout=10)
        assert task in done and isinstance(task.exception(), Killed)
        # The crash left the whole first batch written but unacknowledged.
        assert await applications(crashing.sink)

        # ack_wait is 30 s: the restart must not wait for the server to redeliver what the
        # dead worker had pulled; it resumes from its checkpoint at once.
        restarted = apply_log_worker(infra, apply_log_sink(infra, kind))
        task = asyncio.create_task(restarted.run())
        try:
            positions.append(await publish(infra, "after restart"))
            await platform.wait(watched(platform, restarted.sink), positions[-1], timeout=5)
        finally:
            restarted.stop()
            await task
        assert await applications(restarted.sink) == once_each(*positions)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_worker_dying_with_pulled_unapplied_events_loses_none_of_them(
    infra: Infra, kind: str
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        positions = [await publish(infra, f"p{i}") for i in range(20)]
        dying = apply_log_worker(infra, apply_log_sink(infra, kind, DiesOnce, after_commit=False))
        task = asyncio.create_task(dying.run())
        done, _ = await asyncio.wait([task], timeout=10)
        assert task in done and isinstance(task.exception(), Killed)
        assert await applications(dying.sink) == {}

        # The 20 events are delivered-but-unacknowledged on the server (ack_wait 30 s). The
        # next worker must start from its checkpoint, not run ahead of them with newer ones.
        restarted = apply_log_worker(infra, apply_log_sink(infra, kind))
        task = asyncio.create_task(restarted.run())
        try:
            positions.append(await publish(infra, "after restart"))
            await platform.wait(watched(platform, restarted.sink), positions[-1], timeout=5)
        finally:
            restarted.stop()
            await task
        assert await applications(restarted.sink) == once_each(*positions)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_batch_committed_again_skips_what_the_checkpoint_already_holds(
    infra: Infra, kind: str
) -> None:
    async with Platform(infra, edge=False, projection_names=[]):
        positions = [await publish(infra, f"p{i}") for i in range(15)]
    events = await infra.store.read_subject("CONTENT", "ev.posts.>")
    assert len(events) == 15
    sink = apply_log_sink(infra, kind)
    build = await sink.ensure()

    async def commit(batch: Sequence[RecordedEvent]) -> None:
        await sink.commit(build, "CONTENT", batch, batch[-1].seq, live=True)

    await commit(events[:10])
    await commit(events[:10])  # the same batch again: its COMMIT's answer was lost
    await commit(events[5:15])  # redelivered from before the checkpoint, reaching past it
    await commit(events[2:4])  # an old redelivery, all of it behind the checkpoint
    assert await applications(sink) == once_each(*positions)
    # …and the old redelivery did not move the checkpoint back (which would re-apply later).
    assert await sink.checkpoint(build, "CONTENT") == seq_of(positions[-1])


@pytest.mark.parametrize("kind", KINDS)
async def test_a_batch_retried_after_its_commit_went_through_applies_nothing_twice(
    infra: Infra, kind: str
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        positions = [await publish(infra, f"p{i}") for i in range(10)]
        sink = apply_log_sink(infra, kind, FailsAfterCommit)
        worker = apply_log_worker(infra, sink)
        task = asyncio.create_task(worker.run())
        try:
            positions.append(await publish(infra, "after the retry"))
            await platform.wait(watched(platform, sink), positions[-1], timeout=10)
        finally:
            worker.stop()
            await task
    assert sink.failed
    assert await applications(sink) == once_each(*positions)


@pytest.mark.parametrize("kind", KINDS)
async def test_one_copy_of_a_projection_writes_and_another_takes_over_at_its_checkpoint(
    infra: Infra, kind: str
) -> None:
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        leader = apply_log_worker(infra, apply_log_sink(infra, kind, Recording))
        standby = apply_log_worker(infra, apply_log_sink(infra, kind, Recording))
        name = watched(platform, leader.sink)
        tasks = [asyncio.create_task(leader.run())]
        try:
            positions = [await publish(infra, "the first copy leads")]
            await platform.wait(name, positions[-1])
            tasks.append(asyncio.create_task(standby.run()))
            await asyncio.wait_for(standby.sink.asked_to_lead.wait(), 5)
            positions += [await publish(infra, f"while both run {i}") for i in range(10)]
            await platform.wait(name, positions[-1])
            assert standby.sink.committed == [] and not standby.caught_up.is_set()

            leader.stop()
            await tasks[0]
            positions.append(await publish(infra, "the second copy took over"))
            await platform.wait(name, positions[-1], timeout=10)
        finally:
            leader.stop()
            standby.stop()
            await asyncio.gather(*tasks)
    assert leader.sink.committed and standby.sink.committed
    # The standby started after the leader's checkpoint, and nothing was applied twice.
    assert min(standby.sink.committed) > max(leader.sink.committed)
    assert await applications(standby.sink) == once_each(*positions)


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
    from station.runner import Workers

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


async def test_a_redis_leader_does_not_renew_a_lease_another_copy_has_taken(
    infra: Infra,
) -> None:
    from projections.author_stats import AuthorStatsProjection

    sink = sink_for(AuthorStatsProjection(), infra)
    assert isinstance(sink, RedisSink)
    sink.lease_renew_seconds = 0.02
    key = sink.base + "leader"
    async with await sink.leadership():
        # This copy stalled past its lease; a standby took over with its own token.
        await infra.redis.set(key, b"the-standby", px=10_000)
        await asyncio.sleep(0.2)  # several renewal periods pass
        assert await infra.redis.get(key) == b"the-standby"


async def test_a_redis_build_number_is_never_used_again_after_redis_lost_its_keys(
    infra: Infra,
) -> None:
    """A worker still writing to build N must not find a new build N made after a loss:
    it would write into the replay's fresh build and move its checkpoint past what that
    build holds. Build numbers only grow, counter or no counter."""
    from projections.author_stats import AuthorStatsProjection

    sink = sink_for(AuthorStatsProjection(), infra)
    assert isinstance(sink, RedisSink)
    old = await sink.ensure()
    await sink.commit(old, "CONTENT", [], 5, live=True)
    # Redis restarts without persistence: every key of the projection is gone.
    keys = [k async for k in infra.redis.scan_iter(match=f"{sink.prefix}*author_stats*")]
    await infra.redis.delete(*keys)
    new = await sink.ensure()
    assert new > old
    with pytest.raises(BuildSwitched):
        await sink.commit(old, "CONTENT", [], 9, live=True)
    assert await sink.checkpoint(new, "CONTENT") == 0
    assert await sink.new_build() > new
