"""Projection leadership's advisory locks (`core.pg_leases`): every leader of a process on
one PostgreSQL connection, exclusive against other sessions and against other copies in the
same process, released with the last leader or with the session."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from core.bootstrap import Infra
from core.pg_leases import SessionLocks, session_locks


async def holders(infra: Infra, keys: list[str]) -> list[int]:
    """The backends holding advisory locks on `keys` (one entry per lock)."""
    rows = await infra.pool.fetch(
        """SELECT l.pid FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted
             AND l.objid IN (SELECT hashtext(k)::oid FROM unnest($1::text[]) k)""",
        keys,
    )
    return [r["pid"] for r in rows]


async def taken_elsewhere(infra: Infra, key: str) -> bool:
    """Whether another session can take `key` now (and gives it back at once)."""
    conn = await asyncpg.connect(infra.settings.database_url)
    try:
        got = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key)
        if got:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
        return not got
    finally:
        await conn.close()


async def test_every_leader_of_a_process_locks_on_one_connection(infra: Infra) -> None:
    locks = SessionLocks(infra.pool)
    keys = [f"test.lease.{secrets.token_hex(4)}.{i}" for i in range(5)]
    for key in keys:
        assert await locks.try_lock(key)
    pids = await holders(infra, keys)
    assert len(pids) == 5 and len(set(pids)) == 1
    assert all([await taken_elsewhere(infra, key) for key in keys])

    for key in keys[:-1]:
        await locks.unlock(key)
    assert await holders(infra, keys) == pids[:1] and locks.conn is not None
    await locks.unlock(keys[-1])
    # The last release gives the connection back: nothing held, nothing kept.
    assert await holders(infra, keys) == [] and locks.conn is None
    assert not any([await taken_elsewhere(infra, key) for key in keys])


async def test_a_second_copy_in_the_same_process_waits_for_the_first(infra: Infra) -> None:
    """PostgreSQL's advisory locks are re-entrant within a session; leadership must not be."""
    locks = session_locks(infra.pool)
    assert session_locks(infra.pool) is locks
    key = f"test.lease.{secrets.token_hex(4)}"
    order: list[str] = []

    async def lead(name: str, hold: asyncio.Event) -> None:
        async with locks.hold(key):
            order.append(name)
            await hold.wait()

    first_done, second_done = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(lead("first", first_done))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(lead("second", second_done))
    await asyncio.sleep(0.3)
    assert order == ["first"]
    first_done.set()
    await first
    for _ in range(50):  # the standby asks again every second
        if order == ["first", "second"]:
            break
        await asyncio.sleep(0.1)
    assert order == ["first", "second"]
    second_done.set()
    await second
    assert await holders(infra, [key]) == []


async def test_a_lost_session_frees_the_locks_and_the_holder_starts_again(infra: Infra) -> None:
    locks = SessionLocks(infra.pool)
    key, other = (f"test.lease.{secrets.token_hex(4)}.{i}" for i in range(2))
    assert await locks.try_lock(key)
    [pid] = await holders(infra, [key])
    await infra.pool.execute("SELECT pg_terminate_backend($1)", pid)
    for _ in range(50):
        if locks.conn is None or locks.conn.is_closed():
            break
        await asyncio.sleep(0.1)
    assert not await taken_elsewhere(infra, key)
    # The holder knows the lock went with the session, and takes locks on a new one.
    assert await locks.try_lock(other) and await locks.try_lock(key)
    new = await holders(infra, [key, other])
    assert len(new) == 2 and len(set(new)) == 1 and new[0] != pid
    await locks.unlock(key)
    await locks.unlock(other)
    assert await holders(infra, [key, other]) == []


async def test_a_cancelled_leader_still_releases_its_lock(infra: Infra) -> None:
    locks = SessionLocks(infra.pool)
    key = f"test.lease.{secrets.token_hex(4)}"
    inside = asyncio.Event()

    async def lead() -> None:
        async with locks.hold(key):
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(lead())
    await asyncio.wait_for(inside.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    for _ in range(50):
        if not await holders(infra, [key]):
            break
        await asyncio.sleep(0.1)
    assert await holders(infra, [key]) == [] and locks.held == set()
