"""Test-only read models that make failures visible: `apply_log` (PostgreSQL) and
`redis_apply_log` (Redis) count every application of an event (a double apply shows as a
count of 2), and in `apply_log` posts whose title contains "poison" fail; with the sinks,
workers and posts that drive them. And `redeliver`, which makes a platform's real read model
apply events it already holds a second time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import asyncpg

from core.bootstrap import Infra
from core.commands import parse_position
from core.envelope import RecordedEvent
from core.ids import new_id
from core.projection import PgProjection, RedisProjection, Sink
from core.projection_pg import PgSink
from core.projection_redis import RedisSink
from core.projection_worker import ProjectionWorker, projection_worker
from core.streams import ConsumerSpec, SourceSpec
from edge.positions import PositionWatcher
from handlers.posts.commands import PublishPost
from handlers.posts.events import PostEdited, PostPublished
from tests.support.log import stream_head

if TYPE_CHECKING:
    from tests.support.platform import Platform


class PoisonError(Exception):
    pass


class ApplyLog(PgProjection):
    name: ClassVar[str] = "apply_log"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset({PostPublished.name, PostEdited.name})
    ddl: ClassVar[str] = """
        CREATE TABLE applied (
            seq bigint NOT NULL,
            idx integer NOT NULL,
            times integer NOT NULL,
            PRIMARY KEY (seq, idx)
        );
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            title = getattr(e.event, "title", None) or ""
            if "poison" in title:
                raise PoisonError(f"cannot apply {title!r}")
            await conn.execute(
                "INSERT INTO applied (seq, idx, times) VALUES ($1, $2, 1) "
                "ON CONFLICT (seq, idx) DO UPDATE SET times = applied.times + 1",
                e.seq,
                e.index,
            )


def apply_log_spec(ack_wait: str = "30s", max_deliver: int = 3) -> ConsumerSpec:
    return ConsumerSpec(
        sources=[SourceSpec(stream="CONTENT", filter_subjects=["ev.posts.>"])],
        max_deliver=max_deliver,
        ack_wait=ack_wait,
        max_ack_pending=1000,
    )


#: The streams `apply_log` reads, for a `PositionWatcher` (the platform's declarations do
#: not name this test read model).
APPLY_LOG_READS = frozenset(source.stream for source in apply_log_spec().sources)


class RedisApplyLog(RedisProjection):
    name: ClassVar[str] = "redis_apply_log"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = ApplyLog.consumes

    def apply(self, pipe: Any, keyspace: str, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            pipe.hincrby(f"{keyspace}applied", f"{e.seq}:{e.index}", 1)


async def applications(sink: Sink) -> dict[tuple[int, int], int]:
    """How many times each event, by position (seq, index), was applied to the active build
    of an `apply_log` or `redis_apply_log` sink."""
    if isinstance(sink, PgSink):
        rows = await sink.pool.fetch(f'SELECT seq, idx, times FROM "{sink.name}".applied')
        return {(r["seq"], r["idx"]): r["times"] for r in rows}
    active = await sink.active_build()
    if active is None:
        return {}
    raw = await sink.redis.hgetall(f"{sink.keyspace(active[0])}applied")  # type: ignore[attr-defined]
    return {
        (int(seq), int(idx)): int(times)
        for (seq, _, idx), times in ((k.decode().partition(":"), v) for k, v in raw.items())
    }


#: Who publishes the posts the apply logs count.
AUTHOR = new_id()


def apply_log_sink(infra: Infra, kind: str, behaviour: type | None = None, **options: Any) -> Any:
    """An apply-log sink in PostgreSQL or Redis, with `behaviour` (a mixin changing how it
    commits, as the projection tests define them) if given."""
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
    """A worker for `sink` (an `apply_log` in PostgreSQL unless given) that retries fast."""
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


async def publish(infra: Infra, title: str = "hello") -> str:
    """Publishes a post through the handlers; its position, for waiting on a read model."""
    reply = await infra.bus.send(PublishPost(post_id=new_id(), title=title, body="b"), actor=AUTHOR)
    assert reply.position
    return reply.position


def seq_of(position: str) -> int:
    """The stream sequence of a position."""
    return parse_position(position)[1]


async def redeliver(
    platform: Platform,
    name: str,
    stream: str,
    *,
    since: int,
    max_batch: int = 1000,
    timeout: float = 20.0,
) -> None:
    """Make the platform's PostgreSQL read model `name` apply again every event of `stream`
    after sequence `since`, although its rows already hold them, and wait until it has.

    The kernel never does this by itself (a batch and its checkpoint commit together, and
    events at or below the checkpoint are skipped), so this stands for whatever could: its
    worker stops, the checkpoint row in `quark.checkpoints` is moved back to `since` with
    the rows left as they are, and a new worker starts from there, as one would after a
    crash that lost the checkpoint but not the rows. `max_batch=1` applies the events one by
    one, the shape of the retry after a failed batch.
    """
    from projections import projections

    workers = platform.workers
    for worker, task in zip(workers.projections, workers.projection_tasks, strict=True):
        if worker.name == name and not worker.stopping:
            worker.stop()
            await task
    projection = projections()[name]
    restarted = projection_worker(projection, platform.infra)
    assert isinstance(restarted.sink, PgSink), f"{name} is not a PostgreSQL read model"
    active = await restarted.sink.active_build()
    assert active is not None
    moved = await platform.infra.pool.execute(
        "UPDATE quark.checkpoints SET position = $4 "
        "WHERE projection = $1 AND build = $2 AND stream = $3 AND position > $4",
        name,
        active[0],
        stream,
        since,
    )
    assert moved == "UPDATE 1", f"{name} had not gone past {stream}:{since}"
    restarted.max_batch = max_batch
    # Handed to the platform's workers, which stop it with the rest.
    workers.projections.append(restarted)
    workers.projection_tasks.append(asyncio.create_task(restarted.run(), name=f"again-{name}"))
    # A watcher of its own: the platform's remembers the position from before the rewind
    # (positions only grow) and would answer at once.
    watcher = PositionWatcher(
        platform.infra.nc, platform.infra.pool, platform.infra.decl.read_streams()
    )
    await watcher.start()
    try:
        await watcher.wait(name, stream, await stream_head(platform.infra, stream), timeout)
    finally:
        await watcher.stop()


async def checkpoints_stored(platform: Platform, timeout: float = 10.0) -> None:
    """Until every PostgreSQL read model has stored the position it last announced: a chunk
    of events a read model does not consume is stored a moment later
    (`core.projection_worker.SKIPPED_STORE_SECONDS`). For a test that counts the database's
    queries and must not count that bookkeeping."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await platform.infra.pool.fetch(
            """SELECT c.projection, c.stream, c.position FROM quark.checkpoints c
               JOIN quark.projections p ON p.name = c.projection AND p.active_build = c.build"""
        )
        behind = [
            (r["projection"], r["stream"])
            for r in rows
            if platform.watcher.known(r["projection"], r["stream"]) > r["position"]
        ]
        if not behind:
            return
        assert asyncio.get_running_loop().time() < deadline, f"not stored: {behind}"
        await asyncio.sleep(0.05)
