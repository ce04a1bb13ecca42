"""Read-your-writes (DESIGN §3): wait until a projection has applied a given position.

Projection workers publish their checkpoint on `quark.positions.<projection>` after every
commit. The watcher keeps the latest value per (projection, stream) in memory, so a read
that is already satisfied costs nothing; otherwise it waits for the notification, bounded,
and checks the checkpoint table once more before giving up (a notification may be missed
while NATS reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping

import asyncpg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from core.errors import TimeoutWaitingError
from core.projection import POSITIONS_SUBJECT


class PositionWatcher:
    def __init__(self, nc: NATS, pool: asyncpg.Pool, reads: Mapping[str, Collection[str]]) -> None:
        """`reads`: the streams each read model consumes (`Declarations.read_streams`). A
        read model with no checkpoint yet of a stream it reads is at 0 (wait); one that does
        not read the stream is never waited for. The checkpoint table alone cannot tell the
        two apart: a new build has no row for a stream until it commits one of its events."""
        self.nc = nc
        self.pool = pool
        self.reads = reads
        self._known: dict[tuple[str, str], int] = {}
        self._waiters: dict[tuple[str, str], list[tuple[int, asyncio.Future[None]]]] = defaultdict(
            list
        )
        self._sub: Subscription | None = None
        self._sources: dict[str, Callable[[str], Awaitable[int | None]]] = {}

    def checkpoint_source(
        self, projection: str, lookup: Callable[[str], Awaitable[int | None]]
    ) -> None:
        """Where a non-PostgreSQL projection (Redis) keeps its checkpoint of a stream."""
        self._sources[projection] = lookup

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(f"{POSITIONS_SUBJECT}.*", cb=self._on_position)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _on_position(self, msg: Msg) -> None:
        projection = msg.subject.rsplit(".", 1)[-1]
        stream, _, seq_text = msg.data.decode().partition(" ")
        if seq_text.isdigit():
            self._advance((projection, stream), int(seq_text))

    def known(self, projection: str, stream: str) -> int:
        """The latest position of `stream` that `projection` is known to have applied here
        (-1: none heard of yet); no I/O."""
        return self._known.get((projection, stream), -1)

    def _advance(self, key: tuple[str, str], seq: int) -> None:
        if seq <= self._known.get(key, -1):
            return
        self._known[key] = seq
        waiters = self._waiters.get(key)
        if not waiters:
            return
        still = []
        for target, fut in waiters:
            if target <= seq:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((target, fut))
        self._waiters[key] = still

    async def _checkpoint(self, projection: str, stream: str) -> int:
        """The active build's checkpoint of `stream`; 0 while the projection has no build
        yet, or no checkpoint of `stream` (wait for it)."""
        try:
            row = await self.pool.fetchrow(
                "SELECT p.active_build, c.position FROM quark.projections p "
                "LEFT JOIN quark.checkpoints c ON c.projection = p.name "
                "AND c.build = p.active_build AND c.stream = $2 WHERE p.name = $1",
                projection,
                stream,
            )
        except asyncpg.UndefinedTableError:
            return 0
        if row is None or row["position"] is None:
            return 0
        return int(row["position"])

    async def _checkpoint_any(self, projection: str, stream: str) -> int | None:
        """The checkpoint of a PostgreSQL projection, or None if it does not read `stream`
        (then nothing is to be waited for) or keeps its checkpoint elsewhere (Redis)."""
        lookup = self._sources.get(projection)
        if lookup is not None:
            return await lookup(stream)
        if stream not in self.reads.get(projection, ()):
            return None
        return await self._checkpoint(projection, stream)

    async def wait(self, projection: str, stream: str, seq: int, timeout: float) -> None:
        """Return once `projection` has applied `stream` up to `seq`.

        Raises:
            TimeoutWaitingError: not reached within `timeout` seconds (the edge answers 503).
        """
        key = (projection, stream)
        if self._known.get(key, -1) >= seq:
            return
        current = await self._checkpoint_any(projection, stream)
        if current is None:
            return
        self._advance(key, current)
        # Not `current >= seq`: a notification that arrived while the checkpoint was read
        # advanced `_known` and found no waiter to wake; waiting for it would last the
        # whole timeout.
        if self._known[key] >= seq:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (seq, fut)
        self._waiters[key].append(waiter)
        try:
            await asyncio.wait_for(fut, timeout)
            return
        except TimeoutError:
            pass
        finally:
            # A waiter that gave up must not stay listed until the projection passes it.
            with contextlib.suppress(ValueError):
                self._waiters[key].remove(waiter)
        current = await self._checkpoint_any(projection, stream)
        if current is not None and current >= seq:
            self._advance(key, current)
            return
        raise TimeoutWaitingError(
            f"{projection} is at {stream}:{current}, the request needs {stream}:{seq}",
            retry_after=1,
        )
