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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core.envelope import RecordedEvent
from core.failures import DEPENDENCY_FAILURES
from core.logging import get_logger
from core.metrics import (
    PROJECTION_DEAD_LETTERS_TOTAL,
    PROJECTION_EVENTS_TOTAL,
    PROJECTION_LAG,
    PROJECTION_POSITION,
)
from core.natsutil import NATS_UNAVAILABLE
from core.pull import PullStream
from core.registry import EventRegistry, UnknownEventType
from core.streamreader import RawMessage, read_stream
from core.streams import ConsumerSpec, SourceSpec, parse_duration

log = get_logger("quark.projection")

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


class PgProjection(Projection):
    """A PostgreSQL read model. `ddl` creates its tables with unqualified names; `apply`
    runs inside the batch transaction with `search_path` set to the build's schema."""

    ddl: ClassVar[str]

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
# Sinks: where a projection's builds and checkpoints live.
# ------------------------------------------------------------------------------------------


class BuildSwitched(Exception):
    """The active build changed under a live worker (a replay finished)."""


class Sink(ABC):
    projection: Projection

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


KERNEL_DDL = """
CREATE SCHEMA IF NOT EXISTS quark;
CREATE TABLE IF NOT EXISTS quark.projections (
    name text PRIMARY KEY,
    active_build integer NOT NULL,
    version integer NOT NULL,
    switched_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS quark.builds (
    projection text NOT NULL,
    build integer NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, build)
);
CREATE TABLE IF NOT EXISTS quark.checkpoints (
    projection text NOT NULL,
    build integer NOT NULL,
    stream text NOT NULL,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, build, stream)
);
"""


async def ensure_kernel_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        # Serialise concurrent first starts: CREATE ... IF NOT EXISTS still races in PG.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('quark.kernel_schema'))")
            await conn.execute(KERNEL_DDL)


class PgSink(Sink):
    def __init__(
        self, projection: PgProjection, pool: asyncpg.Pool, streams: Sequence[str]
    ) -> None:
        self.projection = projection
        self.pool = pool
        self.streams = list(streams)
        self.name = projection.name

    def schema(self, build: int) -> str:
        return f"{self.name}__b{build}"

    async def ensure(self) -> int:
        await ensure_kernel_schema(self.pool)
        active = await self.active_build()
        if active is not None:
            return active[0]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('quark.first_build.' || $1))", self.name
            )
            row = await conn.fetchrow(
                "SELECT active_build FROM quark.projections WHERE name = $1", self.name
            )
            if row is not None:
                return int(row["active_build"])
            build = await self._create_build(conn)
            await self._point_views(conn, build)
            await conn.execute(
                "INSERT INTO quark.projections (name, active_build, version) VALUES ($1, $2, $3)",
                self.name,
                build,
                self.projection.version,
            )
            return build

    async def _create_build(self, conn: asyncpg.Connection) -> int:
        build = await conn.fetchval(
            "SELECT coalesce(max(build), 0) + 1 FROM quark.builds WHERE projection = $1", self.name
        )
        schema = self.schema(build)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(self.projection.ddl)
        await conn.execute("SET LOCAL search_path TO public")
        await conn.execute(
            "INSERT INTO quark.builds (projection, build, version) VALUES ($1, $2, $3)",
            self.name,
            build,
            self.projection.version,
        )
        await conn.executemany(
            "INSERT INTO quark.checkpoints (projection, build, stream) VALUES ($1, $2, $3)",
            [(self.name, build, s) for s in self.streams],
        )
        return int(build)

    async def _point_views(self, conn: asyncpg.Connection, build: int) -> None:
        schema = self.schema(build)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.name}"')
        old = await conn.fetch(
            "SELECT table_name FROM information_schema.views WHERE table_schema = $1", self.name
        )
        for row in old:
            await conn.execute(f'DROP VIEW IF EXISTS "{self.name}"."{row["table_name"]}"')
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
            schema,
        )
        for row in tables:
            t = row["table_name"]
            await conn.execute(f'CREATE VIEW "{self.name}"."{t}" AS SELECT * FROM "{schema}"."{t}"')

    async def active_build(self) -> tuple[int, int] | None:
        row = await self.pool.fetchrow(
            "SELECT active_build, version FROM quark.projections WHERE name = $1", self.name
        )
        return (int(row["active_build"]), int(row["version"])) if row else None

    async def checkpoint(self, build: int, stream: str) -> int:
        value = await self.pool.fetchval(
            "SELECT position FROM quark.checkpoints WHERE projection = $1 AND build = $2 AND stream = $3",
            self.name,
            build,
            stream,
        )
        return int(value or 0)

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # One round trip: lock the checkpoint (FOR UPDATE) and, for live batches, the
            # projection row (FOR SHARE: live batches of several sources run side by side, a
            # switch takes it FOR UPDATE), check the build, point search_path at the build.
            # The checkpoint is compared inside the transaction that advances it: events that
            # a crashed or ambiguous earlier attempt committed are never applied again.
            row = await conn.fetchrow(
                "SELECT p.active_build, c.position, "
                "set_config('search_path', $4, true) AS search_path "
                "FROM quark.checkpoints c JOIN quark.projections p ON p.name = c.projection "
                "WHERE c.projection = $1 AND c.build = $2 AND c.stream = $3 "
                + ("FOR UPDATE OF c FOR SHARE OF p" if live else "FOR UPDATE OF c"),
                self.name,
                build,
                stream,
                f'"{self.schema(build)}", public',
            )
            if live and (row is None or row["active_build"] != build):
                raise BuildSwitched(self.name)
            position = None if row is None else row["position"]
            if position is not None and last_seq <= position:
                return
            fresh = [e for e in events if e.seq > (position or 0)]
            if fresh:
                await self.projection.apply(conn, fresh)
            await conn.execute(
                "UPDATE quark.checkpoints SET position = $4, updated_at = now() "
                "WHERE projection = $1 AND build = $2 AND stream = $3",
                self.name,
                build,
                stream,
                last_seq,
            )

    async def new_build(self) -> int:
        await ensure_kernel_schema(self.pool)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('quark.first_build.' || $1))", self.name
            )
            return await self._create_build(conn)

    async def switch(self, build: int, catch_up: Callable[[], Any]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            previous = await conn.fetchval(
                "SELECT active_build FROM quark.projections WHERE name = $1 FOR UPDATE", self.name
            )
            await catch_up()
            await self._point_views(conn, build)
            if previous is None:
                await conn.execute(
                    "INSERT INTO quark.projections (name, active_build, version) VALUES ($1, $2, $3)",
                    self.name,
                    build,
                    self.projection.version,
                )
            else:
                await conn.execute(
                    "UPDATE quark.projections SET active_build = $2, version = $3, switched_at = now() WHERE name = $1",
                    self.name,
                    build,
                    self.projection.version,
                )
            return int(previous or 0)

    async def drop_build(self, build: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema(build)}" CASCADE')
            await conn.execute(
                "DELETE FROM quark.checkpoints WHERE projection = $1 AND build = $2",
                self.name,
                build,
            )
            await conn.execute(
                "DELETE FROM quark.builds WHERE projection = $1 AND build = $2", self.name, build
            )

    @contextlib.asynccontextmanager
    async def _lease(self):
        """Leadership: a session-level advisory lock on a connection of its own. Pooled
        connections are not reset on release (core.bootstrap), so the connection goes back
        to the pool only once the lock is surely released; on any other way out (the unlock
        failed, a cancellation while locking or unlocking) it is closed, which releases the
        lock with the session, or the next leader would wait for it forever."""
        conn: asyncpg.Connection = await self.pool.acquire()
        key = f"quark.projection.{self.name}"
        clean = False
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                await asyncio.sleep(1.0)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
                    clean = True
        finally:
            if not clean:
                conn.terminate()
            await self.pool.release(conn)

    async def leadership(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lease()

    async def digest(self) -> str:
        rows = await self.pool.fetch(
            "SELECT table_name FROM information_schema.views WHERE table_schema = $1 ORDER BY 1",
            self.name,
        )
        parts = []
        for row in rows:
            t = row["table_name"]
            md5 = await self.pool.fetchval(
                f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"{self.name}\".\"{t}\" x"
            )
            parts.append(f"{t}:{md5}")
        return ";".join(parts)


#: Extend a lease if (and only if) it still holds our token.
_RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


#: INCR, but never below ARGV[1] (a clock reading): build numbers only grow.
_NEXT_BUILD = """
local n = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if n < floor then
    redis.call('SET', KEYS[1], floor)
    n = floor
end
return n
"""


class RedisSink(Sink):
    """Builds as key prefixes `<prefix><name>:b<n>:`; the active build in one key.

    The writer's lease (one writer per projection) lasts 10 s and is renewed every
    `lease_renew_seconds`.

    A live commit WATCHes the active-build key, so a switch between its check and its EXEC
    aborts the transaction (BuildSwitched) instead of writing into a retired build.
    """

    def __init__(
        self, projection: RedisProjection, redis: Any, streams: Sequence[str], prefix: str
    ) -> None:
        self.projection = projection
        self.redis = redis
        self.streams = list(streams)
        self.name = projection.name
        self.base = f"{prefix}proj:{self.name}:"
        self.prefix = prefix
        self.lease_renew_seconds = 3.0

    def keyspace(self, build: int) -> str:
        return f"{self.prefix}{self.name}:b{build}:"

    def _cp_key(self, build: int, stream: str) -> str:
        return f"{self.base}b{build}:checkpoint:{stream}"

    def checkpoint_key(self, build: int, stream: str) -> str:
        """Where `build` keeps its checkpoint of `stream` (readers compare it with other
        read models' positions)."""
        return self._cp_key(build, stream)

    async def ensure(self) -> int:
        active = await self.active_build()
        if active is not None:
            return active[0]
        build = await self.new_build()
        if await self.redis.set(
            self.base + "active", f"{build}:{self.projection.version}", nx=True
        ):
            return build
        await self.drop_build(build)
        active = await self.active_build()
        assert active is not None
        return active[0]

    async def active_build(self) -> tuple[int, int] | None:
        value = await self.redis.get(self.base + "active")
        if not value:
            return None
        build, _, version = (value.decode() if isinstance(value, bytes) else value).partition(":")
        return int(build), int(version)

    async def checkpoint(self, build: int, stream: str) -> int:
        value = await self.redis.get(self._cp_key(build, stream))
        return int(value or 0)

    async def commit(
        self, build: int, stream: str, events: Sequence[RecordedEvent], last_seq: int, *, live: bool
    ) -> None:
        import redis.exceptions

        cp_key = self._cp_key(build, stream)
        async with self.redis.pipeline(transaction=True) as pipe:
            # WATCH both: a switch of the active build or another writer's checkpoint move
            # between the checks and EXEC aborts the transaction.
            await pipe.watch(self.base + "active", cp_key)
            active, position_raw = await pipe.mget(self.base + "active", cp_key)
            if live and (active is None or int(active.decode().split(":")[0]) != build):
                raise BuildSwitched(self.name)
            position = int(position_raw or 0)
            if last_seq <= position:
                return
            fresh = [e for e in events if e.seq > position]
            pipe.multi()
            if fresh:
                self.projection.apply(pipe, self.keyspace(build), fresh)
            pipe.set(cp_key, last_seq)
            try:
                await pipe.execute()
            except redis.exceptions.WatchError:
                raise BuildSwitched(self.name) from None

    async def new_build(self) -> int:
        # Never a number used before, even after Redis lost every key (a restart without
        # persistence restarts a bare counter at 1): the counter is raised to the clock in
        # milliseconds first. A worker still writing to its old build then finds it is no
        # longer the active one (BuildSwitched) instead of writing into a namesake that a
        # replay has just started from scratch.
        build = int(
            await self.redis.eval(_NEXT_BUILD, 1, self.base + "builds", int(time.time() * 1000))
        )
        for s in self.streams:
            await self.redis.set(self._cp_key(build, s), 0)
        return build

    async def switch(self, build: int, catch_up: Callable[[], Any]) -> int:
        """Catch up, then switch only if no live batch reached the old build since: the
        old build's checkpoints are WATCHed (a live commit moves them and aborts the
        switch) and must not be ahead of the new build's, or the new build would lack a
        batch that readers were already told about. Retried until both hold."""
        import redis.exceptions

        active_key = self.base + "active"
        while True:
            previous = await self.active_build()
            await catch_up()
            old = previous[0] if previous and previous[0] != build else None
            watched = [active_key] + ([self._cp_key(old, s) for s in self.streams] if old else [])
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(*watched)
                if old is not None:
                    for stream in self.streams:
                        old_cp = int(await pipe.get(self._cp_key(old, stream)) or 0)
                        new_cp = int(await pipe.get(self._cp_key(build, stream)) or 0)
                        if old_cp > new_cp:
                            break  # a live batch landed after the catch-up: once more
                    else:
                        old = None
                if old is not None:
                    await pipe.unwatch()
                    continue
                pipe.multi()
                pipe.set(active_key, f"{build}:{self.projection.version}")
                try:
                    await pipe.execute()
                except redis.exceptions.WatchError:
                    continue
            return previous[0] if previous else 0

    async def drop_build(self, build: int) -> None:
        for pattern in (self.keyspace(build) + "*", f"{self.base}b{build}:*"):
            batch = []
            async for key in self.redis.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    await self.redis.unlink(*batch)
                    batch = []
            if batch:
                await self.redis.unlink(*batch)

    @contextlib.asynccontextmanager
    async def _lease(self):
        import os

        key, token = self.base + "leader", os.urandom(8).hex()
        while not await self.redis.set(key, token, nx=True, px=10_000):
            await asyncio.sleep(1.0)

        async def renew() -> None:
            # Only while the lease is still ours: a leader that stalled past the lease's
            # end must not take it back from the standby that took over.
            while True:
                await asyncio.sleep(self.lease_renew_seconds)
                if not await self.redis.eval(_RENEW_LEASE, 1, key, token, 10_000):
                    log.error("projection_lease_lost", projection=self.name)
                    return

        renewer = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(Exception):
                if (await self.redis.get(key) or b"").decode() == token:
                    await self.redis.delete(key)

    async def leadership(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lease()

    async def digest(self) -> str:
        import hashlib

        active = await self.active_build()
        if active is None:
            return ""
        space = self.keyspace(active[0])
        keys = sorted([k async for k in self.redis.scan_iter(match=space + "*", count=1000)])
        h = hashlib.md5()
        for key in keys:
            kind = (await self.redis.type(key)).decode()
            if kind == "string":
                value: Any = await self.redis.get(key)
            elif kind == "hash":
                value = sorted((await self.redis.hgetall(key)).items())
            elif kind == "set":
                value = sorted(await self.redis.smembers(key))
            elif kind == "zset":
                value = await self.redis.zrange(key, 0, -1, withscores=True)
            else:
                value = await self.redis.lrange(key, 0, -1)
            h.update(key[len(space) :] + b"=" + repr(value).encode() + b";")
        return h.hexdigest()


# ------------------------------------------------------------------------------------------
# The live worker
# ------------------------------------------------------------------------------------------


def consumer_name(projection: str, build: int) -> str:
    return f"{projection}_b{build}"


@dataclass
class ProjectionWorker:
    """Runs one projection live: leader election, one pull loop per source stream."""

    projection: Projection
    sink: Sink
    nc: NATS
    registry: EventRegistry
    spec: ConsumerSpec
    nats_url: str = ""
    max_batch: int = 1000
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    retry_base_delay: float = 0.05

    @property
    def name(self) -> str:
        return self.projection.name

    async def run(self) -> None:
        """Until `stop()`: lead, apply, switch builds when a replay finishes."""
        js = self.nc.jetstream()
        await self.sink.ensure()
        lease = await self.sink.leadership()
        async with lease:
            active = await self.sink.active_build()
            if active is not None and active[1] != self.projection.version:
                # The code's read model changed shape: rebuild it beside the old one.
                log.info(
                    "projection_version_changed",
                    projection=self.name,
                    old=active[1],
                    new=self.projection.version,
                )
                await replay(
                    self.projection, self.sink, self.nc, self.registry, self.spec, self.nats_url
                )
            while not self._stopping.is_set():
                build = (await self.sink.active_build() or (await self.sink.ensure(), 0))[0]
                tasks = [
                    asyncio.create_task(self._run_source(js, build, s)) for s in self.spec.sources
                ]
                stop_wait = asyncio.create_task(self._stopping.wait())
                done, _ = await asyncio.wait(
                    [*tasks, stop_wait], return_when=asyncio.FIRST_COMPLETED
                )
                stop_wait.cancel()
                for t in tasks:
                    if t not in done:
                        t.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
                errors = [
                    r
                    for r in results
                    if isinstance(r, BaseException)
                    and not isinstance(r, asyncio.CancelledError | BuildSwitched)
                ]
                if errors and not self._stopping.is_set():
                    raise errors[0]
                if any(isinstance(r, BuildSwitched) for r in results):
                    old = build
                    for s in self.spec.sources:
                        with contextlib.suppress(Exception):
                            await js.delete_consumer(s.stream, consumer_name(self.name, old))
                    log.info("projection_build_switched", projection=self.name, old=old)

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait_stopping(self) -> None:
        await self._stopping.wait()

    async def _ensure_consumer(self, js: Any, build: int, source: SourceSpec) -> str:
        name = consumer_name(self.name, build)
        start = await self.sink.checkpoint(build, source.stream)
        config = ConsumerConfig(
            durable_name=name,
            ack_policy=AckPolicy.ALL,
            ack_wait=parse_duration(self.spec.ack_wait),
            max_ack_pending=self.spec.max_ack_pending,
            filter_subjects=list(source.filter_subjects),
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start else DeliverPolicy.ALL,
            opt_start_seq=start + 1 if start else None,
            max_deliver=-1,
        )
        # The checkpoint, not the consumer, says where this read model stands. A consumer
        # left by an earlier worker holds messages it delivered but nobody acknowledged
        # (pulled, not yet applied when the worker stopped or died); the server would
        # redeliver them only after ack_wait, stalling the projection that long. So the
        # leader starts every run from a consumer positioned at checkpoint + 1.
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(source.stream, name)
        await js.add_consumer(source.stream, config)
        return name

    async def _run_source(self, js: Any, build: int, source: SourceSpec) -> None:
        stream = source.stream
        name = await self._ensure_consumer(js, build, source)
        checkpoint = await self.sink.checkpoint(build, stream)
        PROJECTION_POSITION.labels(self.name, stream).set(checkpoint)
        puller = PullStream(self.nc, stream, name, max_batch=self.max_batch)
        await puller.start()
        try:
            while not self._stopping.is_set():
                msgs = await puller.next_chunk(timeout=1.0)
                if not msgs:
                    self.caught_up.set()
                    await self._publish_position(stream, checkpoint)
                    continue
                fresh = [m for m in msgs if m.metadata.sequence.stream > checkpoint]
                if fresh:
                    checkpoint = await self._apply_messages(build, stream, fresh)
                # AckAll: acknowledging the last message acknowledges every one before it.
                with contextlib.suppress(*NATS_UNAVAILABLE):
                    await msgs[-1].ack()
                pending = msgs[-1].metadata.num_pending
                PROJECTION_LAG.labels(self.name, stream).set(pending)
                if pending == 0:
                    self.caught_up.set()
                await self._publish_position(stream, checkpoint)
        finally:
            await puller.stop()

    def _decode(self, stream: str, seq: int, data: bytes) -> list[RecordedEvent]:
        return self.registry.recorded(data, stream, seq, self.projection.consumes)

    async def _apply_messages(self, build: int, stream: str, msgs: Sequence[Any]) -> int:
        """Apply a chunk in one transaction; on failure isolate the poison event."""
        last = msgs[-1].metadata.sequence.stream
        try:
            events = [
                e for m in msgs for e in self._decode(stream, m.metadata.sequence.stream, m.data)
            ]
            await self.sink.commit(build, stream, events, last, live=True)
            self._applied(stream, last, len(events))
            return last
        except (BuildSwitched, *TRANSIENT):
            raise
        except Exception as exc:
            if len(msgs) == 1:
                return await self._retry_one(build, stream, msgs[0], exc)
        checkpoint = 0
        for m in msgs:
            checkpoint = await self._retry_one(build, stream, m, None)
        return checkpoint

    async def _retry_one(
        self, build: int, stream: str, msg: Any, first_error: BaseException | None
    ) -> int:
        seq = msg.metadata.sequence.stream
        error: BaseException | None = first_error
        attempts = 1 if first_error is not None else 0
        while attempts < self.spec.max_deliver:
            if attempts:
                await asyncio.sleep(min(self.retry_base_delay * 2 ** (attempts - 1), 2.0))
            attempts += 1
            try:
                events = self._decode(stream, seq, msg.data)
                await self.sink.commit(build, stream, events, seq, live=True)
                self._applied(stream, seq, len(events))
                return seq
            except (BuildSwitched, *TRANSIENT):
                raise
            except Exception as exc:
                error = exc
        await self._dead_letter(stream, msg.subject, seq, msg.data, error)
        await self.sink.commit(build, stream, [], seq, live=True)
        self._applied(stream, seq, 0)
        return seq

    async def _dead_letter(
        self, stream: str, subject: str, seq: int, data: bytes, error: BaseException | None
    ) -> None:
        reason = f"{type(error).__name__}: {error}" if error else "unknown"
        if isinstance(error, UnknownEventType):
            reason = f"unknown event type {error}"
        log.error(
            "projection_dead_letter",
            projection=self.name,
            stream=stream,
            seq=seq,
            error=reason[:500],
        )
        PROJECTION_DEAD_LETTERS_TOTAL.labels(self.name).inc()
        js = self.nc.jetstream()
        await js.publish(
            f"dlq.{self.name}.{stream}",
            data,
            headers={
                "Nats-Msg-Id": f"dlq:{self.name}:{stream}:{seq}",
                "Quark-Projection": self.name,
                "Quark-Stream": stream,
                "Quark-Seq": str(seq),
                "Quark-Subject": subject,
                "Quark-Error": reason[:1000].replace("\r", " ").replace("\n", " "),
            },
        )

    def _applied(self, stream: str, seq: int, count: int) -> None:
        PROJECTION_POSITION.labels(self.name, stream).set(seq)
        if count:
            PROJECTION_EVENTS_TOTAL.labels(self.name).inc(count)

    async def _publish_position(self, stream: str, seq: int) -> None:
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await self.nc.publish(f"{POSITIONS_SUBJECT}.{self.name}", f"{stream} {seq}".encode())


# ------------------------------------------------------------------------------------------
# Replay
# ------------------------------------------------------------------------------------------


@dataclass
class ReplayProgress:
    projection: str
    done: int = 0
    total: int = 0
    events: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0


@dataclass
class ReplayReport:
    projection: str
    build: int
    previous_build: int
    messages: int
    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def replay(
    projection: Projection,
    sink: Sink,
    nc: NATS,
    registry: EventRegistry,
    spec: ConsumerSpec,
    nats_url: str,
    *,
    on_progress: Callable[[ReplayProgress], None] | None = None,
    batch_events: int = 5000,
) -> ReplayReport:
    """Rebuild `projection` from the start of the log into a new build, then switch."""
    js = nc.jetstream()
    await sink.ensure()
    build = await sink.new_build()
    progress = ReplayProgress(projection.name)
    started = time.perf_counter()
    heads: dict[str, int] = {}
    for source in spec.sources:
        info = await js.stream_info(source.stream)
        heads[source.stream] = info.state.last_seq
        progress.total += max(0, info.state.last_seq - (info.state.first_seq or 1) + 1)
    messages = 0

    async def run_source(source: SourceSpec, end: int) -> None:
        nonlocal messages
        stream = source.stream
        start = await sink.checkpoint(build, stream) + 1
        if start > end:
            return
        single = source.filter_subjects[0] if len(source.filter_subjects) == 1 else None
        pending: list[RecordedEvent] = []
        last = start - 1
        consumes = projection.consumes
        # The reader runs ahead in its own task: while a batch commits in PostgreSQL, the
        # next chunks are received and parsed instead of the process sitting idle.
        chunks: asyncio.Queue[list[RawMessage] | None] = asyncio.Queue(maxsize=16)

        async def read() -> None:
            try:
                async for chunk in read_stream(nats_url, stream, start, end, subject=single, nc=nc):
                    await chunks.put(chunk)
            finally:
                await chunks.put(None)

        reader = asyncio.create_task(read())
        try:
            while (chunk := await chunks.get()) is not None:
                messages += len(chunk)
                last = chunk[-1].seq
                for raw in chunk:
                    if single is None and not any(
                        subject_matches(f, raw.subject) for f in source.filter_subjects
                    ):
                        continue
                    pending.extend(registry.recorded(raw.data, stream, raw.seq, consumes))
                progress.done = messages
                if len(pending) >= batch_events:
                    await sink.commit(build, stream, pending, last, live=False)
                    progress.events += len(pending)
                    pending = []
                    if on_progress:
                        on_progress(progress)
            await reader  # a reader error surfaces here
        finally:
            # On the error path the commit's exception is the one to report, not the
            # reader's cancellation (or its own failure).
            reader.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await reader
        await sink.commit(build, stream, pending, last, live=False)
        progress.events += len(pending)
        if on_progress:
            on_progress(progress)

    for source in spec.sources:
        await run_source(source, heads[source.stream])

    async def catch_up() -> None:
        for source in spec.sources:
            info = await js.stream_info(source.stream)
            await run_source(source, info.state.last_seq)

    previous = await sink.switch(build, catch_up)
    for source in spec.sources:
        seq = await sink.checkpoint(build, source.stream)
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await nc.publish(
                f"{POSITIONS_SUBJECT}.{projection.name}", f"{source.stream} {seq}".encode()
            )
    if previous and previous != build:
        await sink.drop_build(previous)
    seconds = time.perf_counter() - started
    return ReplayReport(projection.name, build, previous, messages, progress.events, seconds)
