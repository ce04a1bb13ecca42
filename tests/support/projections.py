"""Test-only read models that make failures visible: `apply_log` counts every application
(a double apply shows as a count of 2), and rows whose title contains "poison" fail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import asyncpg

from core.envelope import RecordedEvent
from core.projection import PgProjection
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
