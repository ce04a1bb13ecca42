"""The position watcher behind read-your-writes: a position announced while the watcher is
still reading the stored checkpoint must count, or the read waits out its whole timeout
(`python -m bench blog` once saw a 30 s read that way)."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.bootstrap import Infra
from core.errors import TimeoutWaitingError
from core.projection import POSITIONS_SUBJECT
from edge.positions import PositionWatcher


async def test_a_position_announced_during_the_checkpoint_read_ends_the_wait_at_once(
    infra: Infra,
) -> None:
    watcher = PositionWatcher(infra.nc, infra.pool, {})
    await watcher.start()
    announced = asyncio.Event()

    async def slow_lookup(stream: str) -> int:
        # The projection commits 7 and announces it while this read is in flight; the read
        # returns what the checkpoint held when it began.
        await infra.nc.publish(f"{POSITIONS_SUBJECT}.slowpoke", f"{stream} 7".encode())
        await infra.nc.flush()
        deadline = time.monotonic() + 5
        # Until the watcher has taken the announcement in (its own memory of positions).
        while watcher._known.get(("slowpoke", stream), -1) < 7 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        announced.set()
        return 3

    watcher.checkpoint_source("slowpoke", slow_lookup)
    try:
        started = time.monotonic()
        await watcher.wait("slowpoke", "CONTENT", 7, timeout=10)
        assert announced.is_set()
        assert time.monotonic() - started < 5
    finally:
        await watcher.stop()


async def test_a_read_model_without_a_checkpoint_of_a_stream_it_reads_is_waited_for(
    infra: Infra,
) -> None:
    """A new build has no checkpoint row for a stream until it commits one of its events;
    that is position 0 of a stream it reads, not "reads no such stream" (a chat history read
    at the position of a first message once answered at once with an empty page)."""
    await infra.pool.execute(
        "INSERT INTO quark.projections (name, active_build, version) VALUES ('newcomer', 1, 1)"
    )
    watcher = PositionWatcher(infra.nc, infra.pool, {"newcomer": frozenset({"CONTENT"})})
    await watcher.start()
    try:
        # A stream it does not read is never waited for.
        await watcher.wait("newcomer", "CHAT", 9, timeout=0)
        with pytest.raises(TimeoutWaitingError):
            await watcher.wait("newcomer", "CONTENT", 1, timeout=0.2)
        waiting = asyncio.create_task(watcher.wait("newcomer", "CONTENT", 4, timeout=10))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await infra.nc.publish(f"{POSITIONS_SUBJECT}.newcomer", b"CONTENT 4")
        await asyncio.wait_for(waiting, 5)
    finally:
        await watcher.stop()
