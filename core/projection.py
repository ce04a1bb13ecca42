"""Projections: read models built from the log, replayable at any time (DESIGN §4).

A projection declares its name, a `version`, the event types it consumes and `apply(events)`.
The runtime here does the rest, the same way for PostgreSQL and Redis read models:

- **Builds.** Each rebuild of a read model is a numbered *build* (a PostgreSQL schema
  `<name>__b<n>`, or a Redis key prefix). Readers always see the *active* build: for
  PostgreSQL through views in schema `<name>` that point at it, so switching is one
  transaction and readers never notice.
- **Checkpoints with the rows.** A batch of events and the checkpoint (last stream sequence
  applied) are written in one transaction (PostgreSQL) or one MULTI/EXEC (Redis). A message
  redelivered after a crash has a sequence at or below the checkpoint and is skipped, so
  nothing is applied twice.
- **One writer.** Copies of a projection worker elect a leader (PostgreSQL advisory lock /
  Redis lease); the others stand by. Parallel writers would break checkpoint order.
- **Poison events.** A batch that fails is retried event by event; an event that fails
  `max_deliver` times goes to the DLQ stream with its error and the projection moves on.
- **Replay** builds a new build from sequence 1 with the bulk reader while the live build
  keeps serving, then catches up the tail and switches under a lock the live worker also
  takes per batch, so no event is lost or applied twice across the switch.

This module holds what a read model declares and the sink contract; the parts live beside it:
`core.projection_pg` (PostgreSQL sink), `core.projection_redis` (Redis sink),
`core.projection_worker` (the live worker) and `core.replay` (replay).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import asyncpg

from core.envelope import RecordedEvent
from core.failures import DEPENDENCY_FAILURES

POSITIONS_SUBJECT = "quark.positions"

#: Failures of the infrastructure, not of an event: they stop the worker (which its
#: supervisor restarts) instead of counting towards the event's dead-lettering. Without this
#: a PostgreSQL restart would send perfectly good events to the DLQ.
TRANSIENT: tuple[type[BaseException], ...] = (
    *DEPENDENCY_FAILURES,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


class Projection(ABC):
    """What every read model declares. `consumes` lists the event type names it applies;
    every other event only advances its checkpoint (and is never decoded)."""

    name: ClassVar[str]
    version: ClassVar[int]
    consumes: ClassVar[frozenset[str]]
    #: The vault, for read models that show personal values (set by the runtime before the
    #: first batch). Values of erased people open as "[erased]", in replays too.
    vault: Any = None
    #: The platform's settings (set by the runtime like `vault`), for read models with a
    #: tunable shape (the timelines' cap).
    settings: Any = None
    #: JetStream, for read models that deliver live items as they apply events
    #: (`core.inbox.Outbox`; set by the runtime like `vault`).
    js: Any = None

    def prepare(self, events: Sequence[RecordedEvent]) -> None:  # noqa: B027 - optional
        """Work on a batch that needs no database (rendering Markdown, say), done before
        the batch's transaction: a replay prepares the next batch while the database
        writes this one. `apply` must give the same result whether this ran or not."""


class PgProjection(Projection):
    """A PostgreSQL read model. `ddl` creates its tables with unqualified names; `apply`
    runs inside the batch transaction with `search_path` set to the build's schema."""

    ddl: ClassVar[str]
    #: Whether a replay builds the non-unique indexes of `ddl` after its bulk load instead
    #: of maintaining them row by row, as pg_restore does (posts: a 20,000-row load 1.56 to
    #: 1.99 s with its indexes, 1.47 s with them built after). Only for a read model whose
    #: `apply` finds rows by primary or unique keys alone: without its indexes, any other
    #: lookup would scan the table for every event of the replay.
    defer_indexes: ClassVar[bool] = False

    @abstractmethod
    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None: ...


class RedisProjection(Projection):
    """A Redis read model. `apply` queues writes on a MULTI/EXEC pipeline under `keyspace`
    (the build's key prefix); the runtime adds the checkpoint to the same transaction."""

    @abstractmethod
    def apply(self, pipe: Any, keyspace: str, events: Sequence[RecordedEvent]) -> None: ...


def subject_matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


# ------------------------------------------------------------------------------------------
# Sinks: where a projection's builds and checkpoints live (implementations beside this module).
# ------------------------------------------------------------------------------------------


class BuildSwitched(Exception):
    """The active build changed under a live worker (a replay finished)."""


class Sink(ABC):
    projection: Projection
    #: Whether a chunk of events this read model does not consume may go uncommitted (its
    #: checkpoint stored a moment later: `core.projection_worker.SKIPPED_STORE_SECONDS`).
    #: PostgreSQL's commit is a transaction worth saving; Redis's is one cheap pipeline,
    #: and the home timeline compares its Redis checkpoint with PostgreSQL's, which is only
    #: sound while the Redis one is never the one behind.
    skips_unconsumed: bool = False

    @abstractmethod
    async def ensure(self) -> int:
        """Create the kernel bookkeeping and a first build if none; return the active build."""

    @abstractmethod
    async def active_build(self) -> tuple[int, int] | None:
        """(active build, its projection version), or None before the first build."""

    @abstractmethod
    async def checkpoint(self, build: int, stream: str) -> int: ...

    @abstractmethod
    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        """Apply `events` and set the checkpoint to `last_seq` atomically.

        Raises:
            BuildSwitched: (live only) `build` is no longer active.
        """

    @abstractmethod
    async def new_build(self) -> int: ...

    async def bulk_build(self) -> int:
        """A new build for a replay's bulk load, finished by `bulk_loaded` before its
        catch-up and switch (by default just a new build)."""
        return await self.new_build()

    async def bulk_loaded(self, build: int) -> None:  # noqa: B027 - optional
        """The bulk load of `build` (from `bulk_build`) is done."""

    @abstractmethod
    async def switch(self, build: int, catch_up: Callable[[], Any]) -> int:
        """Run `catch_up()` while holding the switch lock, then make `build` active; return
        the build that was active before (or 0)."""

    @abstractmethod
    async def drop_build(self, build: int) -> None: ...

    @abstractmethod
    async def leadership(self) -> contextlib.AbstractAsyncContextManager[None]: ...

    @abstractmethod
    async def digest(self) -> str:
        """A digest of the active build's content (replay checks, tests)."""

    async def apply_again(self, build: int, stream: str, events: Sequence[RecordedEvent]) -> None:
        """Apply events the projection has already passed (a dead letter retried by an
        operator) without moving the checkpoint, serialised with the live batches."""
        raise NotImplementedError(f"{type(self).__name__} cannot retry dead letters")


def consumer_name(projection: str, build: int) -> str:
    return f"{projection}_b{build}"
