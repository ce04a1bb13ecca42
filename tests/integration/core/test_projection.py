"""The projection runtime against real NATS, PostgreSQL and Redis: exactly-once effect across
crashes and repeated commits, one writer per projection, dead letters. Replay into a new
build is in `test_replay.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from core import projection_worker
from core.bootstrap import Infra
from core.envelope import RecordedEvent
from core.ids import new_id
from core.projection import BuildSwitched, Sink
from core.projection_pg import PgSink
from core.projection_redis import RedisSink
from core.projection_worker import sink_for
from handlers.posts.commands import DeletePost, PublishPost
from tests.support.platform import Platform
from tests.support.projections import (
    AUTHOR,
    ApplyLog,
    applications,
    apply_log_sink,
    apply_log_worker,
    publish,
    seq_of,
)

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


def watched(platform: Platform, sink: Sink) -> str:
    """The name `platform.wait` knows the sink's projection by (a Redis checkpoint is not
    in PostgreSQL: tell the watcher where it is)."""
    if isinstance(sink, RedisSink):

        async def checkpoint(stream: str) -> int | None:
            active = await sink.active_build()
            return 0 if active is None else await sink.checkpoint(active[0], stream)

        platform.watcher.checkpoint_source(sink.name, checkpoint)
    return sink.projection.name


def once_each(*positions: str) -> dict[tuple[int, int], int]:
    """What an apply log holds when each of these commits (one event each) was applied once."""
    return {(seq_of(p), 0): 1 for p in positions}


class CountsCommits:
    """Mixed into a sink: every live commit it was asked for, as (last sequence, events)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls: list[tuple[int, int]] = []

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        if live:
            self.calls.append((last_seq, len(events)))
        await super().commit(build, stream, events, last_seq, live=live)  # type: ignore[misc]


@asynccontextmanager
async def running(infra: Infra, sink: Sink) -> AsyncIterator[None]:
    """An apply-log worker of `sink`, live until the block ends."""
    worker = apply_log_worker(infra, sink)
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        worker.stop()
        await task


async def a_post_deleted(infra: Infra, platform: Platform, sink: Sink) -> tuple[str, str]:
    """A post published and then deleted, each waited for in `sink`'s read model: the
    positions of both. The deletion is on the read model's subjects, yet not an event it
    consumes."""
    post_id = new_id()
    published = await infra.bus.send(
        PublishPost(post_id=post_id, title="t", body="b"), actor=AUTHOR
    )
    assert published.position
    await platform.wait(watched(platform, sink), published.position, timeout=5)
    deleted = await infra.bus.send(DeletePost(post_id=post_id), actor=AUTHOR)
    assert deleted.position
    await platform.wait(sink.projection.name, deleted.position, timeout=5)
    return published.position, deleted.position


async def test_events_a_read_model_does_not_consume_cost_no_commit_yet_are_waited_for(
    infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection_worker, "SKIPPED_STORE_SECONDS", 1.0)
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        sink = apply_log_sink(infra, "postgres", CountsCommits)
        async with running(infra, sink):
            published, deleted = await a_post_deleted(infra, platform, sink)
            build = (await sink.active_build())[0]
            assert await sink.checkpoint(build, "CONTENT") < seq_of(deleted)
            assert all(last < seq_of(deleted) for last, _ in sink.calls)
            # Stored a moment later, with no event of its own: a restart starts after it.
            for _ in range(50):
                if await sink.checkpoint(build, "CONTENT") >= seq_of(deleted):
                    break
                await asyncio.sleep(0.1)
            assert await sink.checkpoint(build, "CONTENT") == seq_of(deleted)
            assert (seq_of(deleted), 0) in sink.calls
        assert await applications(sink) == once_each(published)


async def test_a_redis_read_model_commits_every_chunk(infra: Infra) -> None:
    """Its checkpoint is never behind a PostgreSQL one over events it skips: the home
    timeline decides whether Redis may answer by comparing the two."""
    async with Platform(infra, edge=False, projection_names=[]) as platform:
        sink = apply_log_sink(infra, "redis", CountsCommits)
        async with running(infra, sink):
            _, deleted = await a_post_deleted(infra, platform, sink)
            build = (await sink.active_build())[0]
            assert await sink.checkpoint(build, "CONTENT") == seq_of(deleted)
            assert (seq_of(deleted), 0) in sink.calls


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
