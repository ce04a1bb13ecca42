"""The `chat` read model (PostgreSQL): conversations with their members, roles and read
markers, and each conversation's messages in order.

A message's place (`seq`) is the commit position of its `MessageSent`: one number that
orders the whole conversation, so a page of history is one index range scan and a cursor is
simply the last `seq` shown (stable while others keep sending). Unread counts are computed
when read (messages after the reader's marker), never written per member: a message to a
thousand-member channel is one row here, as it is one commit in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

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


class ConversationRow(msgspec.Struct, frozen=True):
    id: str
    kind: str
    title: str | None
    everyone_posts: bool
    started_by: str
    started_at: datetime
    member_count: int
    last_seq: int
    last_message_id: str | None


class MessageRow(msgspec.Struct, frozen=True):
    id: str
    conversation_id: str
    seq: int
    sender_id: str
    body: str
    reply_to: str | None
    media_ids: list[str]
    mentions: list[str] | None
    sent_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    #: `visible`, `hidden` or `removed` (by moderators).
    moderation: str = "visible"


class EditRow(msgspec.Struct, frozen=True):
    body: str
    replaced_at: datetime


class ChatProjection(PgProjection):
    name: ClassVar[str] = "chat"
    #: 2: mutes; 3: moderation.
    version: ClassVar[int] = 3
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
    ddl: ClassVar[str] = """
        CREATE TABLE conversations (
            id uuid PRIMARY KEY,
            kind text NOT NULL,
            title text,
            everyone_posts boolean NOT NULL,
            started_by text NOT NULL,
            started_at timestamptz NOT NULL,
            member_count int NOT NULL,
            last_seq bigint NOT NULL,
            last_message_id uuid
        );
        CREATE TABLE members (
            conversation_id uuid NOT NULL,
            user_id text NOT NULL,
            role text NOT NULL,
            read_seq bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (conversation_id, user_id)
        );
        CREATE INDEX members_of ON members (user_id);
        -- Apart from `members`: a mute is the person's (their marker aggregate's), and
        -- outlives leaving and coming back as the aggregate does. `muted_until` NULL: until
        -- unmuted; a past one is kept and simply no longer counts.
        CREATE TABLE mutes (
            conversation_id uuid NOT NULL,
            user_id text NOT NULL,
            muted_until timestamptz,
            PRIMARY KEY (conversation_id, user_id)
        );
        CREATE TABLE messages (
            id uuid PRIMARY KEY,
            conversation_id uuid NOT NULL,
            seq bigint NOT NULL,
            sender_id text NOT NULL,
            body text NOT NULL,
            reply_to uuid,
            media_ids text[] NOT NULL,
            mentions text[],
            sent_at timestamptz NOT NULL,
            edited_at timestamptz,
            deleted_at timestamptz,
            position bigint NOT NULL,
            moderation text NOT NULL DEFAULT 'visible'
        );
        CREATE UNIQUE INDEX messages_order ON messages (conversation_id, seq);
        CREATE TABLE message_edits (
            message_id uuid NOT NULL,
            position bigint NOT NULL,
            body text NOT NULL,
            replaced_at timestamptz NOT NULL,
            PRIMARY KEY (message_id, position)
        );
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            await self._apply(conn, recorded.event, recorded.seq)

    async def _apply(self, conn: asyncpg.Connection, e: Any, seq: int) -> None:
        match e:
            case ConversationStarted():
                inserted = await conn.fetchval(
                    """INSERT INTO conversations (id, kind, title, everyone_posts, started_by,
                           started_at, member_count, last_seq)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                       ON CONFLICT (id) DO NOTHING RETURNING true""",
                    e.conversation_id,
                    e.kind,
                    e.title,
                    e.everyone_posts,
                    e.started_by,
                    e.started_at,
                    len(e.members),
                    seq,
                )
                if inserted:
                    await conn.executemany(
                        "INSERT INTO members (conversation_id, user_id, role) VALUES ($1, $2, $3)",
                        [(e.conversation_id, u, r) for u, r in e.members.items()],
                    )
            case ConversationChanged():
                await conn.execute(
                    """UPDATE conversations SET title = coalesce($2, title),
                           everyone_posts = coalesce($3, everyone_posts)
                       WHERE id = $1""",
                    e.conversation_id,
                    e.title,
                    e.everyone_posts,
                )
            case MembersAdded():
                # A newcomer has nothing unread from before they came.
                await conn.execute(
                    """WITH added AS (
                           INSERT INTO members (conversation_id, user_id, role, read_seq)
                           SELECT $1, u, 'member', (SELECT last_seq FROM conversations
                                                    WHERE id = $1)
                           FROM unnest($2::text[]) AS u
                           ON CONFLICT DO NOTHING RETURNING 1
                       )
                       UPDATE conversations
                       SET member_count = member_count + (SELECT count(*) FROM added)
                       WHERE id = $1""",
                    e.conversation_id,
                    e.members,
                )
            case MemberRemoved():
                await conn.execute(
                    """WITH gone AS (
                           DELETE FROM members WHERE conversation_id = $1 AND user_id = $2
                           RETURNING 1
                       )
                       UPDATE conversations
                       SET member_count = member_count - (SELECT count(*) FROM gone)
                       WHERE id = $1""",
                    e.conversation_id,
                    e.user_id,
                )
            case RoleChanged():
                await conn.execute(
                    "UPDATE members SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
                    e.conversation_id,
                    e.user_id,
                    e.role,
                )
            case MessageSent():
                inserted = await conn.fetchval(
                    """INSERT INTO messages (id, conversation_id, seq, sender_id, body, reply_to,
                           media_ids, mentions, sent_at, position)
                       VALUES ($1, $2, $3, $4, $5, $6::uuid, $7, $8, $9, $3)
                       ON CONFLICT (id) DO NOTHING RETURNING true""",
                    e.message_id,
                    e.conversation_id,
                    seq,
                    e.sender_id,
                    e.body,
                    e.reply_to,
                    e.media_ids,
                    e.mentions,
                    e.sent_at,
                )
                if inserted:
                    await conn.execute(
                        """UPDATE conversations SET last_seq = $2, last_message_id = $3
                           WHERE id = $1 AND last_seq < $2""",
                        e.conversation_id,
                        seq,
                        e.message_id,
                    )
                    # What one writes, one has read.
                    await conn.execute(
                        """UPDATE members SET read_seq = $3
                           WHERE conversation_id = $1 AND user_id = $2 AND read_seq < $3""",
                        e.conversation_id,
                        e.sender_id,
                        seq,
                    )
            case MessageEdited():
                # The body it replaces goes to the history first.
                await conn.execute(
                    """WITH old AS (
                           SELECT id, body, coalesce(edited_at, sent_at) AS at FROM messages
                           WHERE id = $1 AND position < $4 AND deleted_at IS NULL
                       ), kept AS (
                           INSERT INTO message_edits (message_id, position, body, replaced_at)
                           SELECT id, $4, body, $3 FROM old ON CONFLICT DO NOTHING
                       )
                       UPDATE messages SET body = $2, mentions = $5, edited_at = $3,
                           position = $4
                       WHERE id = $1 AND position < $4 AND deleted_at IS NULL""",
                    e.message_id,
                    e.body,
                    e.edited_at,
                    seq,
                    e.mentions,
                )
            case MessageDeleted():
                await conn.execute(
                    """UPDATE messages SET body = '', media_ids = '{}', mentions = NULL,
                           deleted_at = $2, position = $3
                       WHERE id = $1 AND deleted_at IS NULL""",
                    e.message_id,
                    e.deleted_at,
                    seq,
                )
                # A tombstone keeps nothing of what was said, its earlier versions included.
                await conn.execute("DELETE FROM message_edits WHERE message_id = $1", e.message_id)
            case MessageModerated():
                await conn.execute(
                    "UPDATE messages SET moderation = $2 WHERE id = $1", e.message_id, e.state
                )
            case ConversationRead():
                await conn.execute(
                    """UPDATE members SET read_seq = $3
                       WHERE conversation_id = $1 AND user_id = $2 AND read_seq < $3""",
                    e.conversation_id,
                    e.user_id,
                    e.seq,
                )
            case ConversationMuted():
                await conn.execute(
                    """INSERT INTO mutes (conversation_id, user_id, muted_until)
                       VALUES ($1, $2, $3) ON CONFLICT (conversation_id, user_id)
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
            case _:
                pass


# -- queries -----------------------------------------------------------------------------

Conn = asyncpg.Connection | asyncpg.Pool
#: A conversation row's columns, `c` being chat.conversations.
CONVERSATION_COLUMNS = """c.id::text, c.kind, c.title, c.everyone_posts, c.started_by,
    c.started_at, c.member_count, c.last_seq, c.last_message_id::text"""
_CONVERSATION = CONVERSATION_COLUMNS
_MESSAGE = """m.id::text, m.conversation_id::text, m.seq, m.sender_id, m.body,
    m.reply_to::text, m.media_ids, m.mentions, m.sent_at, m.edited_at, m.deleted_at,
    m.moderation"""


def _message(r: asyncpg.Record) -> MessageRow:
    values = dict(r)
    values["media_ids"] = list(values["media_ids"])
    values["mentions"] = None if values["mentions"] is None else list(values["mentions"])
    return MessageRow(**values)


async def get_conversation(conn: Conn, conversation_id: str) -> ConversationRow | None:
    r = await conn.fetchrow(
        f"SELECT {_CONVERSATION} FROM chat.conversations c WHERE c.id = $1::uuid",
        conversation_id,
    )
    return ConversationRow(**dict(r)) if r else None


async def role_of(conn: Conn, conversation_id: str, user_id: str) -> str | None:
    """The person's role in the conversation; None for anyone who is not a member."""
    value: str | None = await conn.fetchval(
        "SELECT role FROM chat.members WHERE conversation_id = $1::uuid AND user_id = $2",
        conversation_id,
        user_id,
    )
    return value


async def members(conn: Conn, conversation_id: str, *, limit: int = 200) -> dict[str, str]:
    rows = await conn.fetch(
        """SELECT user_id, role FROM chat.members WHERE conversation_id = $1::uuid
           ORDER BY user_id LIMIT $2""",
        conversation_id,
        limit,
    )
    return {r["user_id"]: r["role"] for r in rows}


async def direct_peers(conn: Conn, conversation_ids: list[str], user_id: str) -> dict[str, str]:
    """The other person of each of these direct conversations of `user_id`, by conversation
    (one query for a page of conversations: a list names a direct one by its other person)."""
    if not conversation_ids:
        return {}
    rows = await conn.fetch(
        """SELECT conversation_id::text, user_id FROM chat.members
           WHERE conversation_id = ANY($1::uuid[]) AND user_id <> $2""",
        conversation_ids,
        user_id,
    )
    return {r["conversation_id"]: r["user_id"] for r in rows}


async def read_markers(conn: Conn, conversation_id: str) -> dict[str, int]:
    """Each member's read marker: the place of the last message they have read (0: none)."""
    rows = await conn.fetch(
        "SELECT user_id, read_seq FROM chat.members WHERE conversation_id = $1::uuid",
        conversation_id,
    )
    return {r["user_id"]: r["read_seq"] for r in rows}


async def get_message(conn: Conn, message_id: str) -> MessageRow | None:
    r = await conn.fetchrow(
        f"SELECT {_MESSAGE} FROM chat.messages m WHERE m.id = $1::uuid", message_id
    )
    return _message(r) if r else None


async def messages_by_ids(conn: Conn, message_ids: list[str]) -> dict[str, MessageRow]:
    """Several messages in one query (the last messages of a page of conversations)."""
    if not message_ids:
        return {}
    rows = await conn.fetch(
        f"SELECT {_MESSAGE} FROM chat.messages m WHERE m.id = ANY($1::uuid[])", message_ids
    )
    return {r["id"]: _message(r) for r in rows}


async def edits(conn: Conn, message_id: str) -> list[EditRow]:
    """The bodies a message had before its edits, oldest first."""
    rows = await conn.fetch(
        """SELECT body, replaced_at FROM chat.message_edits WHERE message_id = $1::uuid
           ORDER BY position""",
        message_id,
    )
    return [EditRow(**dict(r)) for r in rows]


async def history(
    conn: Conn,
    conversation_id: str,
    *,
    before: int | None,
    after: int | None,
    limit: int,
) -> list[MessageRow]:
    """A page of a conversation's messages. With `after`: the oldest ones after that place,
    oldest first; otherwise the newest before `before` (or the end), newest first."""
    if after is not None:
        rows = await conn.fetch(
            f"""SELECT {_MESSAGE} FROM chat.messages m
                WHERE m.conversation_id = $1::uuid AND m.seq > $2
                  AND ($3::bigint IS NULL OR m.seq < $3)
                ORDER BY m.seq LIMIT $4""",
            conversation_id,
            after,
            before,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"""SELECT {_MESSAGE} FROM chat.messages m
                WHERE m.conversation_id = $1::uuid AND ($2::bigint IS NULL OR m.seq < $2)
                ORDER BY m.seq DESC LIMIT $3""",
            conversation_id,
            before,
            limit,
        )
    return [_message(r) for r in rows]


class MineRow(msgspec.Struct, frozen=True):
    conversation: ConversationRow
    role: str
    read_seq: int
    unread: int
    mentions: int
    #: The reader muted the conversation (perhaps until a time already past).
    muted: bool = False
    #: With `muted`: when the mute ends (None: when unmuted).
    muted_until: datetime | None = None


async def mine(
    conn: Conn,
    user_id: str,
    handle: str | None,
    *,
    before: tuple[int, str] | None,
    limit: int,
    only: str | None = None,
) -> list[MineRow]:
    """The person's conversations (or just the one `only` names), latest activity first,
    each with how many messages of others are unread and how many of those mention
    `handle`. A direct conversation shows to the other person from its first message on."""
    rows = await conn.fetch(
        f"""SELECT {_CONVERSATION}, me.role, me.read_seq,
                   (SELECT count(*) FROM chat.messages u
                    WHERE u.conversation_id = c.id AND u.seq > me.read_seq
                      AND u.sender_id <> $1 AND u.deleted_at IS NULL) AS unread,
                   (SELECT count(*) FROM chat.messages u
                    WHERE u.conversation_id = c.id AND u.seq > me.read_seq
                      AND u.sender_id <> $1 AND u.deleted_at IS NULL
                      AND $2::text IS NOT NULL AND $2 = ANY(u.mentions)) AS mention_count,
                   mu.user_id IS NOT NULL AS muted, mu.muted_until
            FROM chat.members me JOIN chat.conversations c ON c.id = me.conversation_id
            LEFT JOIN chat.mutes mu
              ON mu.conversation_id = me.conversation_id AND mu.user_id = me.user_id
            WHERE me.user_id = $1
              AND (c.kind <> 'direct' OR c.last_message_id IS NOT NULL OR c.started_by = $1)
              AND ($3::bigint IS NULL OR (c.last_seq, c.id) < ($3, $4::uuid))
              AND ($6::uuid IS NULL OR me.conversation_id = $6::uuid)
            ORDER BY c.last_seq DESC, c.id DESC LIMIT $5""",
        user_id,
        handle,
        before[0] if before else None,
        before[1] if before else None,
        limit,
        only,
    )
    out = []
    for r in rows:
        values = dict(r)
        role, read_seq = values.pop("role"), values.pop("read_seq")
        unread, mentions = values.pop("unread"), values.pop("mention_count")
        muted, until = values.pop("muted"), values.pop("muted_until")
        out.append(
            MineRow(ConversationRow(**values), role, read_seq, unread, mentions, muted, until)
        )
    return out


async def watchers(pool: Conn, user_id: str) -> list[str]:
    """Who is told live when `user_id` comes online or goes offline: the other person of
    each of their direct conversations that this other person can see (one with a message,
    or one they started), except people blocked either way; nobody while `user_id` hides
    their presence (or is erased). Reads the follows and profiles read models too: the
    rule is one query, so the gateway's lookup is one round trip."""
    rows = await pool.fetch(
        """SELECT DISTINCT other.user_id
           FROM chat.members me
           JOIN chat.conversations c ON c.id = me.conversation_id AND c.kind = 'direct'
           JOIN chat.members other
             ON other.conversation_id = c.id AND other.user_id <> me.user_id
           WHERE me.user_id = $1
             AND (c.last_message_id IS NOT NULL OR c.started_by = other.user_id)
             AND NOT EXISTS (
               SELECT 1 FROM follows.blocks b
               WHERE (b.blocker = $1::uuid AND b.blocked::text = other.user_id)
                  OR (b.blocked = $1::uuid AND b.blocker::text = other.user_id))
             AND coalesce((SELECT p.show_presence AND NOT p.erased FROM profiles.profiles p
                           WHERE p.user_id = $1::uuid), true)
           ORDER BY other.user_id""",
        user_id,
    )
    return [r["user_id"] for r in rows]


async def around(conn: Conn, conversation_id: str, seq: int, *, span: int) -> list[MessageRow]:
    """Up to `span` messages before and after the one at `seq`, oldest first: the context a
    moderator reads a reported message in."""
    rows = await conn.fetch(
        f"""(SELECT {_MESSAGE} FROM chat.messages m
              WHERE m.conversation_id = $1::uuid AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3)
            UNION ALL
            (SELECT {_MESSAGE} FROM chat.messages m
              WHERE m.conversation_id = $1::uuid AND m.seq > $2 ORDER BY m.seq LIMIT $3)""",
        conversation_id,
        seq,
        span,
    )
    return sorted((_message(r) for r in rows), key=lambda m: m.seq)
