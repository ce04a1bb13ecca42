"""Leadership of PostgreSQL projections: session-level advisory locks, all of a process's on
one connection.

A leader holds `pg_advisory_lock` for as long as it leads, and a session-level lock lives on
one connection. One connection per projection kept a PostgreSQL backend per read model busy
doing nothing: 18 of the 29 processes of an idle `./dev up`'s PostgreSQL (≈ 300 MB of its
summed RSS, `python -m bench footprint`), and 18 of the 20 connections of the pool the rest of
the process shares. So every leader of a process (per pool) locks on one connection instead.

What that changes, and why it is sound:
- PostgreSQL's advisory locks are re-entrant within a session: two copies of a projection
  in one process would both "get" the lock. The holder keeps the keys it holds and answers
  a second copy no, as another session would.
- If the connection ends (PostgreSQL restarted, the network cut), every leader of the process
  loses its lock at once, where before each lost its own — losing one was never detected
  either. What keeps two leaders from both writing is the checkpoint, compared in the
  transaction that advances it (`core.projection_pg`), not the lock; the lock only keeps a
  standby from wasting work. The loss is logged.
- A release that fails, or is cancelled half-way, ends the session (as before): the next
  leader must not wait forever for a lock nobody holds. The other leaders of the process
  then lose theirs too, which the checkpoints make safe and the log makes visible.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg

from core.logging import get_logger

log = get_logger("quark.projection")

#: How often a standby asks for a lock it did not get.
RETRY_SECONDS = 1.0


class SessionLocks:
    """The advisory locks a process holds through one pool, on one connection of it (taken
    while at least one lock is held, returned when the last is released)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.conn: asyncpg.pool.PoolConnectionProxy | None = None
        self.held: set[str] = set()
        # One query at a time on the shared connection.
        self.mutex = asyncio.Lock()
        # Which connection a termination callback is about (asyncpg hands a pooled
        # connection's callback the raw connection, not the proxy we hold).
        self._session = 0
        self._on_lost: Callable[[object], None] | None = None

    def _listener(self, session: int) -> Callable[[object], None]:
        def lost(_conn: object) -> None:
            if session != self._session:
                return  # a connection given back earlier, now someone else's
            if self.held:
                log.error("projection_leases_lost", keys=sorted(self.held))
            self.held.clear()
            # The pool has taken the dead connection back already.
            self.conn = None
            self._session += 1

        return lost

    async def _give_back(self, *, end_session: bool = False) -> None:
        """Return the connection to the pool; with `end_session`, close it first, which
        releases every lock it held."""
        conn, self.conn = self.conn, None
        self._session += 1
        if conn is None:
            return
        if end_session and self.held:
            log.error("projection_leases_lost", keys=sorted(self.held))
        self.held.clear()
        with contextlib.suppress(asyncpg.InterfaceError):  # released already: it died
            if self._on_lost is not None:
                conn.remove_termination_listener(self._on_lost)
            if end_session:
                conn.terminate()
            await self.pool.release(conn)

    async def try_lock(self, key: str) -> bool:
        async with self.mutex:
            if key in self.held:
                return False  # another copy in this process leads
            if self.conn is None:
                self.held.clear()
                self.conn = await self.pool.acquire()
                self._on_lost = self._listener(self._session)
                self.conn.add_termination_listener(self._on_lost)
            try:
                got = bool(
                    await self.conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key)
                )
            except BaseException:
                # Whether the lock was taken is unknown: only ending the session is sure.
                await self._give_back(end_session=True)
                raise
            if got:
                self.held.add(key)
            elif not self.held:
                await self._give_back()
            return got

    async def unlock(self, key: str) -> None:
        async with self.mutex:
            if key not in self.held or self.conn is None:
                return  # lost with the session already
            try:
                await self.conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
            except BaseException:
                await self._give_back(end_session=True)
                raise
            self.held.discard(key)
            if not self.held:
                await self._give_back()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Wait until this process holds `key`, and hold it for the block."""
        while not await self.try_lock(key):
            await asyncio.sleep(RETRY_SECONDS)
        try:
            yield
        finally:
            # Shielded: a cancelled leader still releases its lock (or ends the session).
            await asyncio.shield(self.unlock(key))


#: The holder of each open pool, by `id()` (asyncpg's pools take no weak references).
_holders: dict[int, SessionLocks] = {}


def session_locks(pool: asyncpg.Pool) -> SessionLocks:
    """The lock holder of `pool` (one per pool, so one connection per process)."""
    for key in [k for k, h in _holders.items() if h.pool.is_closing()]:
        del _holders[key]
    holder = _holders.get(id(pool))
    if holder is None or holder.pool is not pool:
        holder = _holders[id(pool)] = SessionLocks(pool)
    return holder
