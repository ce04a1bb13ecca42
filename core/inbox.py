"""Live delivery (DESIGN §5, docs/websocket.md): the INBOX stream is the one ordered log of
everything a websocket client may be sent, so one integer — its stream sequence — is a
client's cursor whatever the item's source.

Two kinds of subjects share it:

- `inbox.<user_id>`: items for one person (a message in one of their direct conversations or
  groups, a read receipt, "you were added to …", a notification);
- `room.<conversation_id>`: items for everyone in a public channel, written **once** however
  many members it has; each edge process reads them once and hands them to its local
  members (`edge/live_hub.py`).

Producers are projections (`Outbox`): they derive items from events as they apply them, so
who receives what follows the log's order exactly (a person removed from a group gets
nothing sent after the removal, whatever the timing of the read models).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
from nats.js import JetStreamContext

from core.ids import is_uuid
from core.natsutil import NATS_UNAVAILABLE, unavailable

STREAM = "INBOX"
_encoder = msgspec.json.Encoder()

#: Where each projection's outbox keeps how far it has published, outside its builds: a
#: replay (a new build from sequence 1) must rebuild the read model without sending every
#: item again. A projection with an outbox adds this to its `ddl` (the lock: two builds
#: creating the schema at once would collide in the catalogue).
OUTBOX_DDL = """
    SELECT pg_advisory_xact_lock(hashtext('quark_live'));
    CREATE SCHEMA IF NOT EXISTS quark_live;
    CREATE TABLE IF NOT EXISTS quark_live.published (
        projection text NOT NULL,
        stream text NOT NULL,
        seq bigint NOT NULL DEFAULT 0,
        inbox_seq bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (projection, stream)
    );
"""


def subject(user_id: str) -> str:
    if not is_uuid(user_id):
        raise ValueError(f"{user_id!r} is not a user id")
    return f"inbox.{user_id}"


def room(conversation_id: str) -> str:
    if not is_uuid(conversation_id):
        raise ValueError(f"{conversation_id!r} is not a conversation id")
    return f"room.{conversation_id}"


async def deliver(js: JetStreamContext, user_id: str, item: object, *, item_id: str) -> int:
    """Append `item` (a Struct or dict with a `type`) to the user's inbox; returns its cursor.

    Raises:
        UnavailableError: NATS did not confirm; retrying with the same `item_id` is safe.
    """
    try:
        ack = await js.publish(
            subject(user_id), _encoder.encode(item), headers={"Nats-Msg-Id": item_id}
        )
    except NATS_UNAVAILABLE as exc:
        raise unavailable(exc) from None
    return ack.seq


class Outbox:
    """The items one batch of a projection delivers, published before the batch commits.

    Publishing comes first, so a crash between the two sends the batch again: each item's
    `Nats-Msg-Id` (event position + recipient) makes the stream drop what it already holds
    (within INBOX's `duplicate_window`). The watermark in `quark_live.published`, moved in the
    batch's own transaction, keeps replays silent: events at or below it were published by
    an earlier build. Its `inbox_seq` (the last INBOX sequence this projection has written)
    tells an edge whether the memberships it reads are as new as a client's cursor.
    """

    def __init__(self, conn: asyncpg.Connection, projection: str, stream: str, watermark: int):
        self.conn, self.projection, self.stream = conn, projection, stream
        self.watermark = watermark
        self.last_seq = watermark
        self._items: list[tuple[str, bytes, str]] = []

    @classmethod
    async def open(cls, conn: asyncpg.Connection, projection: str, stream: str) -> Outbox:
        """The outbox of one batch; locks the watermark row until the batch commits (a replay
        and the live worker never publish the same event twice)."""
        # One round trip: the row is created if missing, and locked either way.
        watermark = await conn.fetchval(
            "INSERT INTO quark_live.published AS p (projection, stream) VALUES ($1, $2) "
            "ON CONFLICT (projection, stream) DO UPDATE SET seq = p.seq RETURNING p.seq",
            projection,
            stream,
        )
        return cls(conn, projection, stream, int(watermark))

    def wanted(self, seq: int) -> bool:
        """Whether items of the event at `seq` are still to be published."""
        return seq > self.watermark

    def add(self, seq: int, subject: str, item: dict[str, Any], item_id: str) -> None:
        """Queue `item` for `subject` (`inbox.<id>` / `room.<id>`), unless already published."""
        if seq <= self.watermark:
            return
        self.last_seq = max(self.last_seq, seq)
        self._items.append((subject, _encoder.encode(item), item_id))

    async def flush(self, js: JetStreamContext) -> None:
        """Publish every queued item in order (pipelined: one round trip for the batch), then
        move the watermark inside the batch's transaction."""
        if self.last_seq == self.watermark:
            return
        acks = await asyncio.gather(
            *(js.publish(s, data, headers={"Nats-Msg-Id": i}) for s, data, i in self._items)
        )
        inbox_seq = max((a.seq for a in acks), default=0)
        await self.conn.execute(
            "UPDATE quark_live.published SET seq = $3, inbox_seq = greatest(inbox_seq, $4) "
            "WHERE projection = $1 AND stream = $2",
            self.projection,
            self.stream,
            self.last_seq,
            inbox_seq,
        )
        self._items.clear()
        self.watermark = self.last_seq


async def published_through(pool: asyncpg.Pool, projection: str) -> int:
    """The last INBOX sequence `projection` has written with its read model committed (0
    before its first item)."""
    try:
        value = await pool.fetchval(
            "SELECT max(inbox_seq) FROM quark_live.published WHERE projection = $1", projection
        )
    except asyncpg.UndefinedTableError:
        return 0
    return int(value or 0)
