"""How the `notifications` read model learns from the chat context: the flows of
`NotificationsProjection` for CHAT events, apart because they keep tables of their own.

Membership, kinds and mutes are copied from the chat events into this read model's own
tables (a read model never queries another, so a replay gives the same notifications), and
every decision is made against the event's own time: a mute holds for a message sent before
it ends, whenever the event is applied.

`message` notifications stand for unread messages: one per conversation and recipient
(`message:<conversation_id>:<recipient>`), backed by the set of its unread messages
(`unread_messages`, so redelivery adds nothing and the count stays exact); reading the
conversation (or writing in it: what one writes, one has read) takes the messages read out
of the set, and an empty set takes the notification away. `mention` notifications are one
per message and person, as for posts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from handlers.chat.events import (
    ConversationMuted,
    ConversationRead,
    ConversationStarted,
    ConversationUnmuted,
    MemberRemoved,
    MembersAdded,
    MessageDeleted,
    MessageEdited,
    MessageSent,
)

EVENTS = (
    ConversationStarted,
    MembersAdded,
    MemberRemoved,
    ConversationMuted,
    ConversationUnmuted,
    MessageSent,
    MessageEdited,
    MessageDeleted,
    ConversationRead,
)

#: Conversations whose every message notifies (a channel's do not: only mentions there).
NOTIFYING = ("direct", "group")

DDL = """
    CREATE TABLE conversations (
        id text PRIMARY KEY,
        kind text NOT NULL
    );
    CREATE TABLE members (
        conversation_id text NOT NULL,
        user_id text NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
    );
    -- `muted_until` NULL: until unmuted.
    CREATE TABLE mutes (
        conversation_id text NOT NULL,
        user_id text NOT NULL,
        muted_until timestamptz,
        PRIMARY KEY (conversation_id, user_id)
    );
    -- Whose each message is, for the mentions an edit adds.
    CREATE TABLE messages (
        id text PRIMARY KEY,
        conversation_id text NOT NULL,
        sender_id text NOT NULL
    );
    CREATE TABLE unread_messages (
        notification_id text NOT NULL,
        message_id text NOT NULL,
        user_id text NOT NULL,
        sender_id text NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (notification_id, message_id)
    );
    CREATE INDEX unread_messages_of ON unread_messages (message_id);
"""


def message_notification(conversation_id: str, user_id: str) -> str:
    return f"message:{conversation_id}:{user_id}"


async def apply_chat(conn: asyncpg.Connection, e: Any, seq: int) -> None:
    """Apply one CHAT event; `seq` is its commit position, the message's place."""
    match e:
        case ConversationStarted():
            await conn.execute(
                "INSERT INTO conversations VALUES ($1, $2) ON CONFLICT DO NOTHING",
                e.conversation_id,
                e.kind,
            )
            await _join(conn, e.conversation_id, list(e.members))
        case MembersAdded():
            await _join(conn, e.conversation_id, e.members)
        case MemberRemoved():
            # A former member reads nothing of the conversation: nothing of it stays theirs.
            await conn.execute(
                "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2",
                e.conversation_id,
                e.user_id,
            )
            await conn.execute(
                "DELETE FROM unread_messages WHERE notification_id = $1",
                message_notification(e.conversation_id, e.user_id),
            )
            await conn.execute(
                "DELETE FROM notifications WHERE user_id = $1 AND conversation_id = $2",
                e.user_id,
                e.conversation_id,
            )
        case ConversationMuted():
            await conn.execute(
                """INSERT INTO mutes VALUES ($1, $2, $3) ON CONFLICT (conversation_id, user_id)
                   DO UPDATE SET muted_until = excluded.muted_until""",
                e.conversation_id,
                e.user_id,
                e.until,
            )
        case ConversationUnmuted():
            await conn.execute(
                "DELETE FROM mutes WHERE conversation_id = $1 AND user_id = $2",
                e.conversation_id,
                e.user_id,
            )
        case MessageSent():
            await conn.execute(
                "INSERT INTO messages VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                e.message_id,
                e.conversation_id,
                e.sender_id,
            )
            await _read(conn, e.conversation_id, e.sender_id, seq)
            await _message(conn, e, seq)
            await _mentions(conn, e.message_id, e.conversation_id, e.sender_id,
                            e.mention_owners, e.sent_at)  # fmt: skip
        case MessageEdited():
            sender = await conn.fetchval(
                "SELECT sender_id FROM messages WHERE id = $1", e.message_id
            )
            if sender is not None:
                await _mentions(conn, e.message_id, e.conversation_id, sender,
                                e.mention_owners, e.edited_at)  # fmt: skip
        case MessageDeleted():
            gone = await conn.fetch(
                "DELETE FROM unread_messages WHERE message_id = $1 RETURNING notification_id",
                e.message_id,
            )
            await _refresh(conn, [r["notification_id"] for r in gone])
            await conn.execute(
                "DELETE FROM notifications WHERE target_type = 'message' AND target_id = $1",
                e.message_id,
            )
        case ConversationRead():
            await _read(conn, e.conversation_id, e.user_id, e.seq)
        case _:
            pass


async def _join(conn: asyncpg.Connection, conversation_id: str, members: list[str]) -> None:
    await conn.execute(
        """INSERT INTO members SELECT $1, u FROM unnest($2::text[]) AS u
           ON CONFLICT DO NOTHING""",
        conversation_id,
        members,
    )


async def _message(conn: asyncpg.Connection, e: MessageSent, seq: int) -> None:
    """Every member but the sender and those who muted the conversation at the message's
    time gets the message counted in their notification for the conversation."""
    await conn.execute(
        """WITH recipients AS (
               SELECT m.user_id FROM members m JOIN conversations c ON c.id = m.conversation_id
               WHERE m.conversation_id = $1 AND m.user_id <> $2 AND c.kind = ANY($6::text[])
                 AND NOT EXISTS (
                     SELECT 1 FROM mutes u
                     WHERE u.conversation_id = $1 AND u.user_id = m.user_id
                       AND (u.muted_until IS NULL OR u.muted_until > $5))
           ), fresh AS (
               INSERT INTO unread_messages
               SELECT 'message:' || $1 || ':' || user_id, $3::text, user_id, $2, $4::bigint
               FROM recipients
               ON CONFLICT DO NOTHING RETURNING notification_id, user_id
           )
           INSERT INTO notifications (id, user_id, kind, actors, target_type, target_id,
                                      conversation_id, at)
           SELECT notification_id, user_id, 'message', ARRAY[$2::text], 'conversation', $1, $1,
                  $5::timestamptz
           FROM fresh
           ON CONFLICT (id) DO UPDATE
           SET actors = $2 || array_remove(notifications.actors, $2), at = excluded.at,
               read = false""",
        e.conversation_id, e.sender_id, e.message_id, seq, e.sent_at, list(NOTIFYING),
    )  # fmt: skip


async def _read(conn: asyncpg.Connection, conversation_id: str, user_id: str, seq: int) -> None:
    """The reader's messages up to `seq` are no longer news."""
    notification_id = message_notification(conversation_id, user_id)
    read = await conn.fetchval(
        """WITH gone AS (DELETE FROM unread_messages WHERE notification_id = $1 AND seq <= $2
                         RETURNING 1)
           SELECT count(*) FROM gone""",
        notification_id,
        seq,
    )
    if read:
        await _refresh(conn, [notification_id])


async def _refresh(conn: asyncpg.Connection, notification_ids: list[str]) -> None:
    """Message notifications follow their unread messages: gone with the last of them, and
    their actors the senders still unread, latest first."""
    if not notification_ids:
        return
    await conn.execute(
        """DELETE FROM notifications n WHERE n.id = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM unread_messages u WHERE u.notification_id = n.id)""",
        notification_ids,
    )
    await conn.execute(
        """UPDATE notifications n SET actors = ARRAY(
               SELECT u.sender_id FROM unread_messages u WHERE u.notification_id = n.id
               GROUP BY u.sender_id ORDER BY max(u.seq) DESC)
           WHERE n.id = ANY($1::text[])""",
        notification_ids,
    )


async def _mentions(
    conn: asyncpg.Connection,
    message_id: str,
    conversation_id: str,
    sender: str,
    owners: dict[str, str] | None,
    at: datetime,
) -> None:
    """A mention notifies its person once per message, if they are a member then (in a
    muted conversation too: a mention is addressed to them)."""
    people = [u for u in dict.fromkeys((owners or {}).values()) if u != sender]
    if not people:
        return
    await conn.execute(
        """INSERT INTO notifications (id, user_id, kind, actors, target_type, target_id,
                                      conversation_id, at)
           SELECT 'mention:' || $1::text || ':' || m.user_id, m.user_id, 'mention',
                  ARRAY[$3::text], 'message', $1::text, $2::text, $5::timestamptz
           FROM members m WHERE m.conversation_id = $2 AND m.user_id = ANY($4::text[])
           ON CONFLICT (id) DO NOTHING""",
        message_id, conversation_id, sender, people, at,
    )  # fmt: skip
