"""The test harness's reused databases: a database given back is handed out again only in
the template's exact state, and one a test changed the shape of, or still uses, is dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support.databases import Databases, with_database


@pytest.fixture
async def dbs(pg_admin_url: str, template_database: str) -> AsyncIterator[Databases]:
    made = Databases(pg_admin_url, template_database)
    yield made
    await made.close()


async def contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        return {
            f"{s}.{t}": sorted(map(tuple, await conn.fetch(f'SELECT * FROM "{s}"."{t}"')))
            for s, t in tables
        }
    finally:
        await conn.close()


async def exists(admin_url: str, name: str) -> bool:
    conn = await asyncpg.connect(admin_url)
    try:
        found = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
        return bool(found)
    finally:
        await conn.close()


async def test_a_database_given_back_is_the_template_again(
    dbs: Databases, pg_admin_url: str, template_database: str
) -> None:
    template = await contents(with_database(pg_admin_url, template_database))
    assert template["quark.checkpoints"], "the template has rows of its own to put back"
    name = await dbs.take()
    url = with_database(pg_admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE quark.checkpoints SET position = position + 7")
        await conn.execute("DELETE FROM quark.builds")
        await conn.execute(
            "INSERT INTO follows.follows (follower, followee, since, position) "
            "VALUES (gen_random_uuid(), gen_random_uuid(), now(), 3)"
        )
        # A read model with a trigger: emptying it must not fire the trigger.
        await conn.execute("SET search_path TO notifications__b1")
        await conn.execute(
            "INSERT INTO notifications (id, user_id, kind, actors, target_type, target_id, at)"
            " VALUES ('n', 'u', 'follow', '{a}', 'user', 'u', now())"
        )
        assert await conn.fetchval("SELECT count(*) FROM touched") == 1
    finally:
        await conn.close()
    assert await contents(url) != template
    # Left connected (as a platform's pool is until it closes): restoring ends the session.
    lingering = await asyncpg.connect(url)
    await dbs.give_back(name)
    assert lingering.is_closed() or not await _alive(lingering)
    assert dbs.free == [name]
    assert await dbs.take() == name
    assert dbs.reused == 1 and dbs.made == 1
    assert await contents(url) == template


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
        return True
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False


async def test_a_database_whose_schema_a_test_changed_is_dropped(
    dbs: Databases, pg_admin_url: str
) -> None:
    name = await dbs.take()
    conn = await asyncpg.connect(with_database(pg_admin_url, name))
    try:
        await conn.execute("ALTER TABLE follows__b1.follows ADD COLUMN note text")
    finally:
        await conn.close()
    await dbs.give_back(name)
    assert dbs.free == []
    assert not await exists(pg_admin_url, name)
    assert await dbs.take() != name
