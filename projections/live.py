"""The `live` read model (PostgreSQL) and the items it delivers: who is in which
conversation, learnt from the chat events in the log's order, and for each chat event the
websocket items it makes (docs/websocket.md, "Items").

Delivery follows the conversation's kind:

- direct conversations and groups (at most `QUARK_GROUP_MAX_MEMBERS`): one item per member in
  their `inbox.<user_id>`; membership is this read model's, as of the event, so a member
  removed gets nothing sent after the removal and one added gets everything after it;
- channels (any size): one item in `room.<conversation_id>`; each edge process reads it once
  for all its local members, who subscribe when they connect (their channels are read here)
  and when an `conversation.joined` item reaches them.

A person's own inbox also gets what changes their conversations — joined, left, their role —
and their read marker (so their other devices clear the unread count); read receipts go to
the other members of direct conversations and of groups up to `QUARK_READ_RECEIPTS_MAX_MEMBERS`.

Items are published by the batch's `Outbox` before the batch commits (see `core.inbox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg

from core import inbox
from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.chat.events import (
    ConversationChanged,
    ConversationMuted,
    ConversationRead,
    ConversationStarted,
    ConversationUnmuted,
    MemberRemoved,
    MembersAdded,
    MessageDeleted,
    MessageEdited,
    MessageModerated,
    MessageSent,
    RoleChanged,
)

NAME = "live"


class LiveProjection(PgProjection):
    name: ClassVar[str] = NAME
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(
        {
            ConversationStarted.name,
            ConversationChanged.name,
            MembersAdded.name,
            MemberRemoved.name,
            RoleChanged.name,
            MessageSent.name,
            MessageEdited.name,
            MessageDeleted.name,
            MessageModerated.name,
            ConversationRead.name,
            ConversationMuted.name,
            ConversationUnmuted.name,
        }
    )
    ddl: ClassVar[str] = (
        """
        CREATE TABLE conversations (
            id uuid PRIMARY KEY,
            kind text NOT NULL
        );
        CREATE TABLE members (
            conversation_id uuid NOT NULL,
            user_id text NOT NULL,
            PRIMARY KEY (conversation_id, user_id)
        );
        CREATE INDEX members_of ON members (user_id);
        """
        + inbox.OUTBOX_DDL
    )

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        outbox = await inbox.Outbox.open(conn, self.name, events[0].stream)
        cache: dict[str, tuple[str, list[str]]] = {}
        for recorded in events:
            await self._apply(conn, outbox, cache, recorded)
        if self.js is None:
            raise RuntimeError("the live projection needs JetStream to deliver its items")
        await outbox.flush(self.js)

    async def _conversation(
        self, conn: asyncpg.Connection, cache: dict[str, tuple[str, list[str]]], cid: str
    ) -> tuple[str, list[str]]:
        """(kind, members) as of the event being applied; a batch keeps what it changes in
        `cache` so a burst of messages costs one query per conversation."""
        if cid not in cache:
            # One round trip (a message's delivery waits for it); a channel's members are
            # not read at all.
            row = await conn.fetchrow(
                "SELECT kind, CASE WHEN kind = 'channel' THEN '{}'::text[] ELSE ARRAY("
                "SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY user_id) END "
                "AS members FROM conversations WHERE id = $1",
                cid,
            )
            cache[cid] = ("", []) if row is None else (row["kind"], list(row["members"]))
        return cache[cid]

    async def _apply(
        self,
        conn: asyncpg.Connection,
        out: inbox.Outbox,
        cache: dict[str, tuple[str, list[str]]],
        r: RecordedEvent,
    ) -> None:
        e: Any = r.event
        item_id = f"{r.stream}:{r.seq}:{r.index}"

        def to_people(people: Sequence[str], item: dict[str, Any]) -> None:
            for user_id in people:
                out.add(r.seq, inbox.subject(user_id), item, f"{item_id}:{user_id}")

        def to_all(kind: str, members: Sequence[str], item: dict[str, Any]) -> None:
            if kind == "channel":
                out.add(r.seq, inbox.room(e.conversation_id), item, item_id)
            else:
                to_people(members, item)

        match e:
            case ConversationStarted():
                inserted = await conn.fetchval(
                    "INSERT INTO conversations (id, kind) VALUES ($1, $2) "
                    "ON CONFLICT DO NOTHING RETURNING true",
                    e.conversation_id,
                    e.kind,
                )
                if inserted:
                    await conn.executemany(
                        "INSERT INTO members (conversation_id, user_id) VALUES ($1, $2)",
                        [(e.conversation_id, u) for u in e.members],
                    )
                cache.pop(e.conversation_id, None)
                # The other person of a direct conversation learns of it from its first
                # message (as the conversation list shows it).
                told = [e.started_by] if e.kind == "direct" else list(e.members)
                for user_id in told:
                    to_people(
                        [user_id],
                        _joined(
                            item_id, e.conversation_id, e.kind, e.members[user_id], e.started_by
                        ),
                    )
            case ConversationChanged():
                kind, members = await self._conversation(conn, cache, e.conversation_id)
                change = {"title": e.title, "everyone_posts": e.everyone_posts}
                to_all(
                    kind,
                    members,
                    {
                        "type": "conversation.changed",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "by": e.changed_by,
                        **{k: v for k, v in change.items() if v is not None},
                    },
                )
            case MembersAdded():
                kind, before = await self._conversation(conn, cache, e.conversation_id)
                added = await conn.fetch(
                    "INSERT INTO members (conversation_id, user_id) SELECT $1, u "
                    "FROM unnest($2::text[]) AS u ON CONFLICT DO NOTHING RETURNING user_id",
                    e.conversation_id,
                    e.members,
                )
                new = [str(a[0]) for a in added]
                cache.pop(e.conversation_id, None)
                for user_id in new:
                    to_people([user_id], _joined(item_id, e.conversation_id, kind, "member", e.by))
                if kind != "channel" and new:
                    to_people(
                        before,
                        {
                            "type": "conversation.members_added",
                            "id": item_id,
                            "conversation_id": e.conversation_id,
                            "members": new,
                            "by": e.by,
                        },
                    )
            case MemberRemoved():
                kind, _ = await self._conversation(conn, cache, e.conversation_id)
                gone = await conn.fetchval(
                    "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 "
                    "RETURNING true",
                    e.conversation_id,
                    e.user_id,
                )
                cache.pop(e.conversation_id, None)
                if not gone:
                    return
                to_people(
                    [e.user_id],
                    {
                        "type": "conversation.left",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "kind": kind,
                        "by": e.by,
                    },
                )
                if kind != "channel":
                    _, rest = await self._conversation(conn, cache, e.conversation_id)
                    to_people(
                        rest,
                        {
                            "type": "conversation.member_removed",
                            "id": item_id,
                            "conversation_id": e.conversation_id,
                            "user_id": e.user_id,
                            "by": e.by,
                        },
                    )
            case RoleChanged():
                kind, members = await self._conversation(conn, cache, e.conversation_id)
                item = {
                    "type": "conversation.role_changed",
                    "id": item_id,
                    "conversation_id": e.conversation_id,
                    "user_id": e.user_id,
                    "role": e.role,
                    "by": e.by,
                }
                to_people([e.user_id] if kind == "channel" else members, item)
            case MessageSent():
                kind, members = await self._conversation(conn, cache, e.conversation_id)
                to_all(
                    kind,
                    members,
                    {
                        "type": "message.new",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "message": {
                            "id": e.message_id,
                            "conversation_id": e.conversation_id,
                            "seq": r.seq,
                            "sender_id": e.sender_id,
                            "body": e.body,
                            "reply_to": e.reply_to,
                            "media_ids": e.media_ids,
                            "mentions": e.mentions or [],
                            "sent_at": e.sent_at,
                        },
                    },
                )
            case MessageEdited():
                kind, members = await self._conversation(conn, cache, e.conversation_id)
                to_all(
                    kind,
                    members,
                    {
                        "type": "message.edited",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "message_id": e.message_id,
                        "body": e.body,
                        "mentions": e.mentions or [],
                        "edited_at": e.edited_at,
                    },
                )
            case MessageDeleted():
                kind, members = await self._conversation(conn, cache, e.conversation_id)
                to_all(
                    kind,
                    members,
                    {
                        "type": "message.deleted",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "message_id": e.message_id,
                        "deleted_by": e.deleted_by,
                        "deleted_at": e.deleted_at,
                    },
                )
            case MessageModerated():
                # No text either way: readers drop a hidden message's text, and fetch a
                # restored one (`GET …/messages/{id}`).
                kind, members = await self._conversation(conn, cache, e.conversation_id)
                to_all(
                    kind,
                    members,
                    {
                        "type": "message.moderated",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "message_id": e.message_id,
                        "state": e.state,
                        "at": e.at,
                    },
                )
            case ConversationRead():
                kind, members = await self._conversation(conn, cache, e.conversation_id)
                receipts = kind != "channel" and len(members) <= self._receipts_max()
                to_people(
                    members if receipts else [e.user_id],
                    {
                        "type": "conversation.read",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "user_id": e.user_id,
                        "message_id": e.message_id,
                        "seq": e.seq,
                        "at": e.at,
                    },
                )

            case ConversationMuted() | ConversationUnmuted():
                # The person's other devices show the conversation muted at once.
                muted = isinstance(e, ConversationMuted)
                to_people(
                    [e.user_id],
                    {
                        "type": "conversation.muted",
                        "id": item_id,
                        "conversation_id": e.conversation_id,
                        "muted": muted,
                        "until": e.until if muted else None,
                    },
                )

    def _receipts_max(self) -> int:
        return int(getattr(self.settings, "read_receipts_max_members", 50))


def _joined(item_id: str, cid: str, kind: str, role: str, by: str) -> dict[str, Any]:
    return {
        "type": "conversation.joined",
        "id": item_id,
        "conversation_id": cid,
        "kind": kind,
        "role": role,
        "by": by,
    }


async def channels_of(pool: asyncpg.Pool, user_id: str) -> list[str]:
    """The channels `user_id` is in (an edge subscribes its sessions to their rooms)."""
    rows = await pool.fetch(
        "SELECT m.conversation_id FROM live.members m "
        "JOIN live.conversations c ON c.id = m.conversation_id "
        "WHERE m.user_id = $1 AND c.kind = 'channel'",
        user_id,
    )
    return [str(r[0]) for r in rows]


async def audience(pool: asyncpg.Pool, conversation_id: str, user_id: str) -> list[str] | None:
    """The members of a direct conversation or group that `user_id` is in (who sees them
    typing), else None (not a member, or a channel)."""
    rows = await pool.fetch(
        "SELECT m.user_id FROM live.members m JOIN live.conversations c "
        "ON c.id = m.conversation_id AND c.kind <> 'channel' WHERE m.conversation_id = $1",
        conversation_id,
    )
    members = [str(r[0]) for r in rows]
    return members if user_id in members else None
