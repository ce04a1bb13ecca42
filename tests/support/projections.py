"""Test-only read models that make failures visible: `apply_log` (PostgreSQL) and
`redis_apply_log` (Redis) count every application of an event (a double apply shows as a
count of 2), and in `apply_log` posts whose title contains "poison" fail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg

from core.envelope import RecordedEvent
from core.projection import PgProjection, PgSink, RedisProjection, Sink
from core.streams import ConsumerSpec, SourceSpec
from handlers.posts.events import PostEdited, PostPublished


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
