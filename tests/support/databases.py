"""Throwaway PostgreSQL databases for tests, restored in place instead of copied anew.

`CREATE DATABASE … TEMPLATE` costs about 0.3 s even for a small template (PostgreSQL 15
writes the whole copy through the WAL and syncs it), and a full run made 862 of them: a
fifth of the suite's set-up time, and the fsyncs slowed every other test's commits. A test
process therefore keeps the databases its tests have finished with and hands them out again
once they are back to the template's exact state: every row deleted (triggers off, so no
read model's trigger writes elsewhere while it is emptied) and the template's own rows (the
kernel's build and checkpoint records) copied back, in one transaction. A database whose
schema a test changed (a rebuild made a new schema, a migration added a column) no longer
matches the template's fingerprint and is dropped, as is one still in use by a process
the test left behind: those cost a fresh copy, as before.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg

#: Schemas that are PostgreSQL's own, not a read model's.
_SYSTEM = "('pg_catalog', 'information_schema', 'pg_toast')"

#: Everything a test could change in a schema, as one digest: relations and their kinds,
#: columns and types, view bodies, indexes, constraints, triggers and functions.
FINGERPRINT = f"""
WITH rels AS (
    SELECT c.oid, n.nspname || '.' || c.relname AS name, c.relkind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN {_SYSTEM} AND n.nspname NOT LIKE 'pg\\_%'
)
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM (
    SELECT 'rel ' || name || ' ' || relkind::text FROM rels
    UNION ALL
    SELECT 'col ' || r.name || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE NOT a.attisdropped
    UNION ALL
    SELECT 'view ' || r.name || ' ' || md5(pg_get_viewdef(r.oid)) FROM rels r
    WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rels r
        ON r.oid = i.indrelid
    UNION ALL
    SELECT 'constraint ' || r.name || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN rels r ON r.oid = c.conrelid
    UNION ALL
    SELECT 'trigger ' || r.name || ' ' || t.tgname || ' ' || t.tgenabled::text FROM pg_trigger t
    JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN {_SYSTEM}
    UNION ALL
    SELECT 'schema ' || nspname FROM pg_namespace
    WHERE nspname NOT IN {_SYSTEM} AND nspname NOT LIKE 'pg\\_%'
) AS items(item)
"""

TABLES = f"""
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN {_SYSTEM} AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1
"""


def with_database(url: str, database: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{database}"))


@dataclass
class _Template:
    fingerprint: str
    tables: list[str]
    #: The template's own rows, per table that has any: (columns, records).
    rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]


@dataclass
class Databases:
    """Copies of one template database for one test process, reused once restored."""

    admin_url: str
    template: str
    free: list[str] = field(default_factory=list)
    made: int = 0
    reused: int = 0
    _shape: _Template | None = None

    async def take(self) -> str:
        """A database equal to the template, nobody connected to it."""
        if self.free:
            self.reused += 1
            return self.free.pop()
        name = f"quark_test_{secrets.token_hex(6)}"
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        self.made += 1
        return name

    async def give_back(self, name: str) -> None:
        """Restore `name` to the template's state for the next test, or drop it."""
        try:
            if await self._restore(name):
                self.free.append(name)
                return
        except (OSError, asyncpg.PostgresError):
            pass  # dropped below: a fresh copy is always right
        await self.drop(name)

    async def drop(self, name: str) -> None:
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def close(self) -> None:
        while self.free:
            await self.drop(self.free.pop())

    async def _restore(self, name: str) -> bool:
        shape = await self._template_shape()
        admin = await asyncpg.connect(self.admin_url)
        try:
            # The test's platform has closed its pools; a process it left behind has not.
            # With a timeout, pg_terminate_backend waits until each session has ended.
            await admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()
        conn = await asyncpg.connect(with_database(self.admin_url, name))
        try:
            if await conn.fetchval(FINGERPRINT) != shape.fingerprint:
                return False
            async with conn.transaction():
                # Triggers (and foreign keys) stay quiet while the tables are emptied.
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute("".join(f"DELETE FROM {t};" for t in shape.tables))
                for table, (columns, records) in shape.rows.items():
                    schema, _, relation = table.partition(".")
                    await conn.copy_records_to_table(
                        relation.strip('"'),
                        schema_name=schema.strip('"'),
                        columns=columns,
                        records=records,
                    )
            # Someone who connected meanwhile (a process the test left running) could
            # write again: such a database is not handed out.
            others = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return bool(others == 0)
        finally:
            await conn.close()

    async def _template_shape(self) -> _Template:
        if self._shape is None:
            conn = await asyncpg.connect(with_database(self.admin_url, self.template))
            try:
                tables = [r[0] for r in await conn.fetch(TABLES)]
                rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
                for table in tables:
                    records = await conn.fetch(f"SELECT * FROM {table}")
                    if records:
                        rows[table] = (list(records[0].keys()), [tuple(r) for r in records])
                self._shape = _Template(await conn.fetchval(FINGERPRINT), tables, rows)
            finally:
                await conn.close()
        return self._shape
