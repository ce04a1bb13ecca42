"""PostgreSQL read models' builds and checkpoints: each build is a schema `<name>__b<n>`,
readers go through views in schema `<name>`, and a batch commits with its checkpoint in one
transaction (see `core.projection` for the model)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from core.envelope import RecordedEvent
from core.pg_leases import session_locks
from core.projection import BuildSwitched, PgProjection, Sink

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


#: A non-unique index statement of a read model's DDL, on lines of its own (see
#: `PgProjection.defer_indexes`); unique ones stay with their tables: `ON CONFLICT` and
#: constraints need them during the load.
_INDEX = re.compile(r"^[ \t]*CREATE INDEX\b[^;]*;", re.MULTILINE)


def deferred_indexes(ddl: str) -> tuple[str, list[str]]:
    """`ddl` without its non-unique indexes, and those index statements."""
    return _INDEX.sub("", ddl), [m.group(0).strip() for m in _INDEX.finditer(ddl)]


class PgSink(Sink):
    skips_unconsumed = True

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
        # A read model with an active build has the kernel's tables too: every start but
        # the first is one query, not the kernel's DDL under an advisory lock (which ran
        # twice per read model on every start of a station).
        with contextlib.suppress(asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            active = await self.active_build()
            if active is not None:
                return active[0]
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

    async def _create_build(self, conn: asyncpg.Connection, *, bulk: bool = False) -> int:
        build = await conn.fetchval(
            "SELECT coalesce(max(build), 0) + 1 FROM quark.builds WHERE projection = $1", self.name
        )
        schema = self.schema(build)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        ddl = self.projection.ddl
        if bulk and self.projection.defer_indexes:
            ddl = deferred_indexes(ddl)[0]
        await conn.execute(ddl)
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

    async def apply_again(self, build: int, stream: str, events: Sequence[RecordedEvent]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # The checkpoint row's lock orders this after (or before) any live batch.
            row = await conn.fetchrow(
                "SELECT c.position, set_config('search_path', $4, true) AS search_path "
                "FROM quark.checkpoints c WHERE c.projection = $1 AND c.build = $2 "
                "AND c.stream = $3 FOR UPDATE OF c",
                self.name,
                build,
                stream,
                f'"{self.schema(build)}", public',
            )
            if row is None:
                raise LookupError(f"{self.name} has no checkpoint of {stream} in build {build}")
            await self.projection.apply(conn, list(events))

    async def new_build(self, *, bulk: bool = False) -> int:
        await ensure_kernel_schema(self.pool)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('quark.first_build.' || $1))", self.name
            )
            return await self._create_build(conn, bulk=bulk)

    async def bulk_build(self) -> int:
        return await self.new_build(bulk=True)

    async def bulk_loaded(self, build: int) -> None:
        if not self.projection.defer_indexes:
            return
        indexes = deferred_indexes(self.projection.ddl)[1]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{self.schema(build)}"')
            await conn.execute("\n".join(indexes))

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

    async def leadership(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A session-level advisory lock, on the one connection all of this process's
        leaders share (`core.pg_leases`)."""
        return session_locks(self.pool).hold(f"quark.projection.{self.name}")

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
