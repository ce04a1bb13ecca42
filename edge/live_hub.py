"""One reader of the INBOX stream per edge process, shared by every websocket on it.

The hub follows the whole stream from where it was when the edge started, with one
ephemeral pull consumer (no acks: nothing is redelivered, and nothing is lost either: a gap
in the consumer's own sequence — a message dropped while NATS reconnected — makes it
recreate the consumer after the last sequence it handed out). Each item is framed once and
handed to the local sessions of its person (`inbox.<user>`) or of its channel
(`room.<conversation>`), so a channel message costs one read per edge process, however many
members are connected to it, and a thousand-member channel is no thousand consumers.

What a session missed while away is read by `catch_up` from its own cursor with a
short-lived consumer filtered to its subjects; `Connection` (edge/live_connection.py)
buffers the hub's items meanwhile, and the two meet at the hub's position without a gap or a
repeat.

Ephemeral signals (typing, presence) never touch the stream: they are core NATS messages on
`eph.<user_id>`, one wildcard subscription per edge.

Limits, written down in docs/websocket.md: every edge process reads every item of the
stream (it filters locally), so the INBOX rate an edge can follow bounds the platform; a
person's channels are one filter each in a catch-up consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import msgspec
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core import inbox
from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE
from core.pull import PullStream

log = get_logger("quark.edge.live")

#: Core NATS subjects of ephemeral frames for one person (typing, presence).
EPHEMERAL = "eph"
#: How long an idle hub waits for an item before it checks that its consumer still exists.
IDLE_CHECK_SECONDS = 5.0


class Head(msgspec.Struct):
    """What the hub and sessions read of an inbox item (the rest passes through as bytes)."""

    type: str = ""
    conversation_id: str | None = None
    kind: str | None = None
    message: dict[str, Any] | None = None


_decode_head = msgspec.json.Decoder(Head)


def head_of(data: bytes) -> Head:
    try:
        return _decode_head.decode(data)
    except msgspec.DecodeError:
        return Head()


def frame_of(seq: int, data: bytes) -> bytes:
    """The `item` frame, built once per item for every session that gets it."""
    return b'{"type":"item","cursor":%d,"item":%s}' % (seq, data)


def text_frame(payload: bytes) -> bytes:
    """`payload` as one whole websocket text frame from a server (FIN, unmasked, no
    compression; RFC 6455 §5.2), built once for every socket an item goes to."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Subscriber(Protocol):
    user_id: str
    #: Its connection in the presence registry.
    conn_id: str
    #: The channels it is in (the hub keeps this and its own index in step).
    rooms: set[str]

    def offer(
        self, seq: int, room: str | None, data: bytes, frame: bytes, wire: bytes | None = None
    ) -> None:
        """An item of the live stream (`room`: its channel, None for the person's inbox);
        `wire` is `frame` as a whole websocket frame."""

    def signal(self, frame: bytes) -> None:
        """An ephemeral frame (typing, presence): may be dropped, never blocks."""


class LiveHub:
    def __init__(self, nc: NATS, *, max_batch: int = 1000) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.max_batch = max_batch
        #: The last INBOX sequence handed to the sessions.
        self.position = 0
        self.users: dict[str, set[Subscriber]] = {}
        self.rooms: dict[str, set[Subscriber]] = {}
        self._task: asyncio.Task[None] | None = None
        self._eph: Any = None
        self.ready = asyncio.Event()
        self.available = False

    async def start(self) -> None:
        try:
            self.position = (await self.js.stream_info(inbox.STREAM)).state.last_seq
        except nats.js.errors.NotFoundError:
            log.warning("live_delivery_unavailable", reason="no INBOX stream")
            return
        self.available = True
        self._eph = await self.nc.subscribe(f"{EPHEMERAL}.*", cb=self._on_ephemeral)
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5.0)
        if self._eph is not None:
            with contextlib.suppress(Exception):
                await self._eph.unsubscribe()

    # --- who is here ----------------------------------------------------------------------

    def attach(self, session: Subscriber, rooms: Iterable[str]) -> int:
        """Start handing `session` its items; returns the position they start after (the
        session catches up to it by itself). No await: nothing slips in between."""
        self.users.setdefault(session.user_id, set()).add(session)
        for room in rooms:
            self.join(session, room)
        return self.position

    def detach(self, session: Subscriber) -> None:
        sessions = self.users.get(session.user_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.users[session.user_id]
        for room in list(session.rooms):
            self.leave(session, room)

    def join(self, session: Subscriber, room: str) -> None:
        session.rooms.add(room)
        self.rooms.setdefault(room, set()).add(session)

    def leave(self, session: Subscriber, room: str) -> None:
        session.rooms.discard(room)
        members = self.rooms.get(room)
        if members is not None:
            members.discard(session)
            if not members:
                del self.rooms[room]

    # --- following the stream -------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._follow()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live_hub_restarting", error=repr(exc), position=self.position)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _follow(self) -> None:
        """Until the consumer is lost: pull, check the consumer's sequence, dispatch."""
        name = f"edge_{uuid.uuid4().hex}"
        await self.js.add_consumer(inbox.STREAM, _ephemeral(name, self.position, None))
        puller = PullStream(self.nc, inbox.STREAM, name, max_batch=self.max_batch)
        await puller.start()
        self.ready.set()
        delivered = 0
        try:
            while True:
                msgs = await puller.next_chunk(timeout=IDLE_CHECK_SECONDS)
                if not msgs:
                    await self.js.consumer_info(inbox.STREAM, name)  # gone: NotFoundError
                    continue
                for msg in msgs:
                    seq, consumer_seq = _sequences(msg)
                    if consumer_seq != delivered + 1:
                        raise LookupError(f"gap in the live consumer after {self.position}")
                    delivered = consumer_seq
                    if seq > self.position:
                        self.position = seq
                        self.dispatch(seq, msg.subject, msg.data)
        finally:
            await puller.stop()
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(inbox.STREAM, name)

    def dispatch(self, seq: int, subject: str, data: bytes) -> None:
        kind, _, key = subject.partition(".")
        if kind == "room":
            sessions = self.rooms.get(key)
            if sessions:
                frame = frame_of(seq, data)
                wire = text_frame(frame)
                for s in list(sessions):
                    s.offer(seq, key, data, frame, wire)
            return
        sessions = self.users.get(key)
        if not sessions:
            return
        head = head_of(data) if b'"conversation.' in data else None
        if head is not None and head.kind == "channel" and head.conversation_id:
            # The person's channels change in the stream's order: items of the channel
            # after this one reach them, none after they left.
            for s in sessions:
                if head.type == "conversation.joined":
                    self.join(s, head.conversation_id)
                elif head.type == "conversation.left":
                    self.leave(s, head.conversation_id)
        frame = frame_of(seq, data)
        wire = text_frame(frame)
        for s in list(sessions):
            s.offer(seq, None, data, frame, wire)

    # --- ephemeral signals ----------------------------------------------------------------

    async def signal(self, user_ids: Iterable[str], frame: bytes) -> None:
        """Tell `user_ids` something that may be lost (typing, presence) on every edge."""
        for user_id in user_ids:
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await self.nc.publish(f"{EPHEMERAL}.{user_id}", frame)

    async def _on_ephemeral(self, msg: Msg) -> None:
        for s in list(self.users.get(msg.subject.partition(".")[2], ())):
            s.signal(msg.data)

    # --- catching a session up ------------------------------------------------------------

    async def catch_up(
        self,
        session: Subscriber,
        after: int,
        until: int,
        deliver: Callable[[int, str | None, bytes, bytes], Awaitable[None]],
    ) -> int:
        """Deliver `session`'s items in (`after`, `until`] in order; returns the position it
        is complete through. Items after it reach the session from the hub (it buffers them
        while this runs), so nothing is read twice.

        A `conversation.joined`/`left` item of a channel on the way changes the session's
        channels as the hub would have; a channel joined on the way is read from that item
        up to the hub's position at that moment (the hub handed out none of its items to
        the session before)."""
        position = after
        while position < until:
            name = f"edge_catchup_{uuid.uuid4().hex}"
            subjects = [inbox.subject(session.user_id), *(f"room.{r}" for r in session.rooms)]
            info = await self.js.add_consumer(inbox.STREAM, _ephemeral(name, position, subjects))
            restart = False
            puller = PullStream(self.nc, inbox.STREAM, name, max_batch=256)
            await puller.start()
            try:
                pending = info.num_pending
                while pending and not restart:
                    msgs = await puller.next_chunk(timeout=IDLE_CHECK_SECONDS)
                    if not msgs:
                        raise TimeoutError("catch-up stalled")
                    for msg in msgs:
                        seq, _ = _sequences(msg)
                        pending = _pending(msg)
                        if seq > until:
                            return until
                        if seq <= position:
                            continue
                        room = msg.subject[5:] if msg.subject.startswith("room.") else None
                        position = seq
                        if room is not None and room not in session.rooms:
                            continue  # a channel left on the way
                        if room is None and b'"conversation.' in msg.data:
                            head = head_of(msg.data)
                            cid = head.conversation_id
                            if head.kind == "channel" and cid:
                                if head.type == "conversation.joined" and cid not in session.rooms:
                                    self.join(session, cid)
                                    until = max(until, self.position)
                                    restart = True
                                elif head.type == "conversation.left":
                                    self.leave(session, cid)
                        await deliver(seq, room, msg.data, frame_of(seq, msg.data))
                        if restart or not pending:
                            break
            finally:
                await puller.stop()
                with contextlib.suppress(Exception):
                    await self.js.delete_consumer(inbox.STREAM, name)
            if not restart:
                break  # nothing more of the session's up to the stream's end
        return until


def _ephemeral(name: str, after: int, subjects: list[str] | None) -> ConsumerConfig:
    return ConsumerConfig(
        name=name,
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=after + 1,
        filter_subjects=subjects,
        inactive_threshold=30.0,
        mem_storage=True,
        num_replicas=1,
        max_waiting=16,
    )


def _sequences(msg: Msg) -> tuple[int, int]:
    """(stream sequence, consumer sequence) from a JetStream message's reply subject."""
    meta = msg.metadata
    return meta.sequence.stream, meta.sequence.consumer


def _pending(msg: Msg) -> int:
    return int(msg.metadata.num_pending)
