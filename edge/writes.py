"""Read-your-writes for the writer, without asking (API.md: "a person's own reads reflect
their acknowledged writes without any header").

Almost no client sends `Quark-After`. So every edge process remembers, per person, the
latest commit position of their acknowledged commands in each stream, and a read by that
person waits — bounded, like `Quark-After` — until the read model serving it has passed
those positions. It holds whichever edge process or device the read comes through:

- the handler that committed a command announces `"<person> <STREAM>:<seq>"` on
  `quark.writes` (core NATS) before it replies, so every edge has it before the writer can
  know the command succeeded; the edge that sent the command also records the reply
  itself;
- a read passes the same barrier as the ended-session check (`core.access`): messages the
  server routed to this process before the read arrived are processed first;
- announcements missed while this process was starting or disconnected are covered by a
  floor: the streams' last positions when the process (re)synced. Every authenticated read
  waits for the floor too — free once the read models have passed it, which they normally
  have.

The memory is bounded (the most recent writers); an entry that read models have passed costs
nothing more than a dictionary lookup. Anonymous reads wait for nothing but `Quark-After`.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from core.access import Barrier
from core.bus import WRITES_SUBJECT
from core.commands import parse_position
from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE, unavailable

log = get_logger("quark.edge.writes")

#: Writers remembered per edge process (an entry is a few streams' positions).
MAX_WRITERS = 200_000


class WriteLog:
    def __init__(
        self, nc: NATS, barrier: Barrier, streams: list[str], *, max_writers: int = MAX_WRITERS
    ) -> None:
        self.nc = nc
        self.barrier = barrier
        self.streams = streams
        self.max_writers = max_writers
        self._writers: OrderedDict[str, dict[str, int]] = OrderedDict()
        self.floor: dict[str, int] = {}
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(
            WRITES_SUBJECT, cb=self._on_write, pending_msgs_limit=1_000_000
        )
        self.barrier.subscriptions.append(self._sub)
        await self.take_floor()

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(ValueError):
                self.barrier.subscriptions.remove(self._sub)
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def take_floor(self) -> None:
        """The streams' last positions now: announcements before this moment may have been
        missed (a start, a reconnection), so every person's reads wait for these."""
        js = self.nc.jetstream()
        floor = {}
        try:
            for stream in self.streams:
                floor[stream] = (await js.stream_info(stream)).state.last_seq
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        self.floor = floor

    async def _on_write(self, msg: Msg) -> None:
        person, _, position = msg.data.decode(errors="replace").partition(" ")
        try:
            self.record(person, position)
        except ValueError:
            log.warning("write_announcement_unreadable")

    def record(self, person: str, position: str) -> None:
        """`person`'s command committed at `position` (`STREAM:seq`)."""
        stream, seq = parse_position(position)
        known = self._writers.get(person)
        if known is None:
            known = self._writers[person] = {}
            if len(self._writers) > self.max_writers:
                self._writers.popitem(last=False)
        else:
            self._writers.move_to_end(person)
        if seq > known.get(stream, 0):
            known[stream] = seq

    def positions_for(self, person: str) -> dict[str, int]:
        """What a read by `person` must see: their own writes and the floor."""
        own = self._writers.get(person)
        if not own:
            return self.floor
        merged = dict(self.floor)
        for stream, seq in own.items():
            if seq > merged.get(stream, 0):
                merged[stream] = seq
        return merged
