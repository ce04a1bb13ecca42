"""Redis read models' builds and checkpoints: each build is a key prefix, a batch and its
checkpoint go in one MULTI/EXEC, and one writer holds a renewed lease (see `core.projection`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from core.envelope import RecordedEvent
from core.logging import get_logger
from core.projection import BuildSwitched, RedisProjection, Sink

log = get_logger("quark.projection")

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
