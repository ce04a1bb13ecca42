"""The `notifications` read model (PostgreSQL): what concerns each person — mentions,
replies to their posts and comments, reactions to them (grouped per target: "Ada and 12
others"), new followers, messages and mentions in their conversations
(`projections.notifications_chat`), moderators' decisions about their content — and what
they marked read and chose to get.

Made only from events: who owns a post or a comment is learnt from its publishing event
(`owners`), whose a mentioned handle is travels in the event (`mentions`), so a replay
gives the same notifications. A notification's id is stable (`<kind>:<what>:<whom>`), so
applying an event again changes nothing; reactions are kept as sets per (target, person,
kind), so a person reacting twice in two kinds counts once and redelivery stays exact.

Ordered by the time of the event that caused it (`at`), then id: a total order that a
replay reproduces, whatever order the streams are read in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core import inbox
from core.envelope import RecordedEvent
from core.moderation import APPEAL_WINDOW, AUTO_HIDE_REASON, content_state
from core.projection import PgProjection
from handlers.moderation.events import AppealDecided, AppealFiled, CaseAutoHidden, DecisionTaken
from handlers.notifications.events import NotificationSettingsChanged, NotificationsRead
from handlers.posts.events import (
    CommentAdded,
    CommentDeleted,
    CommentEdited,
    PostDeleted,
    PostEdited,
    PostPublished,
)
from handlers.profiles.events import Followed
from handlers.reactions.events import ReactionAdded, ReactionRemoved
from projections import notifications_chat as chat
from projections import notifications_live as live


class NotificationRow(msgspec.Struct, frozen=True):
    id: str
    kind: str
    actors: list[str]
    target_type: str
    target_id: str
    post_id: str | None
    at: datetime
    read: bool
    #: People behind it, or for `message` the unread messages (of the actors shown).
    count: int
    conversation_id: str | None
    #: `moderation`: the content's new state and the moderator's reason.
    state: str | None
    reason: str | None
    #: `moderation`: the decision (`decision_id`, `actions`, `appeal_until`) and, about an
    #: appeal, its `appeal_id` and `appeal` state (filed, approved, rejected).
    decision: dict[str, Any] | None = None


class SettingsRow(msgspec.Struct, frozen=True):
    disabled: list[str]
    only_following: bool


class NotificationsProjection(PgProjection):
    name: ClassVar[str] = "notifications"
    #: 2: messages, mentions in messages, moderation (the CHAT stream too).
    #: 3: delivered live (`notifications_live`); 4: removals too; 5: moderation from the
    #: moderation context's own events (every decision, hiding pending review, appeals).
    version: ClassVar[int] = 5
    consumes: ClassVar[frozenset[str]] = frozenset(
        e.name
        for e in (
            *chat.EVENTS,
            DecisionTaken,
            CaseAutoHidden,
            AppealFiled,
            AppealDecided,
            PostPublished,
            PostEdited,
            PostDeleted,
            CommentAdded,
            CommentEdited,
            CommentDeleted,
            ReactionAdded,
            ReactionRemoved,
            Followed,
            NotificationsRead,
            NotificationSettingsChanged,
        )
    )
    ddl: ClassVar[str] = (
        """
        CREATE TABLE owners (
            target_type text NOT NULL,
            target_id text NOT NULL,
            owner text NOT NULL,
            post_id text NOT NULL,
            PRIMARY KEY (target_type, target_id)
        );
        CREATE TABLE notifications (
            id text PRIMARY KEY,
            user_id text NOT NULL,
            kind text NOT NULL,
            -- Newest first; one for all kinds but reactions.
            actors text[] NOT NULL,
            target_type text NOT NULL,
            target_id text NOT NULL,
            post_id text,
            at timestamptz NOT NULL,
            read boolean NOT NULL DEFAULT false,
            conversation_id text,
            state text,
            reason text,
            decision jsonb
        );
        CREATE INDEX notifications_mine ON notifications (user_id, at DESC, id DESC);
        CREATE INDEX notifications_target ON notifications (target_id);
        -- Who reacted to what with which kind (sets: redelivery adds nothing).
        CREATE TABLE reactions (
            target_type text NOT NULL,
            target_id text NOT NULL,
            user_id text NOT NULL,
            kind text NOT NULL,
            PRIMARY KEY (target_type, target_id, user_id, kind)
        );
        -- What each moderation decision was about (appeals name only the decision).
        CREATE TABLE decided (
            decision_id text PRIMARY KEY,
            target_type text NOT NULL,
            target_id text NOT NULL
        );
        CREATE TABLE settings (
            user_id text PRIMARY KEY,
            disabled text[] NOT NULL,
            only_following boolean NOT NULL
        );
    """
        + chat.DDL
        + live.DDL
        + inbox.OUTBOX_DDL
    )

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if isinstance(recorded.event, chat.EVENTS):
                await chat.apply_chat(conn, recorded.event, recorded.seq)
            else:
                await self._apply(conn, recorded.event)
        await live.deliver(conn, self.js, self.name, events)

    async def _apply(self, conn: asyncpg.Connection, e: Any) -> None:
        match e:
            case PostPublished():
                await _own(conn, "post", e.post_id, e.author_id, e.post_id)
                if e.held:
                    return  # held by the word filter: nobody else is to know of it yet
                await _mentions(
                    conn, e.mentions, e.author_id, "post", e.post_id, e.post_id, e.published_at
                )
            case PostEdited():
                author = await _owner(conn, "post", e.post_id)
                if author is not None and not e.held:
                    await _mentions(
                        conn, e.mentions, author[0], "post", e.post_id, e.post_id, e.edited_at
                    )
            case CommentAdded():
                await _own(conn, "comment", e.comment_id, e.author_id, e.post_id)
                if e.held:
                    return
                parent = await _owner(conn, "comment", e.reply_to) if e.reply_to else None
                to = parent[0] if parent is not None else e.post_author_id
                if to != e.author_id:
                    await _notify(
                        conn, f"reply:{e.comment_id}:{to}", to, "reply", [e.author_id],
                        "comment", e.comment_id, e.post_id, e.added_at,
                    )  # fmt: skip
                mentions = {h: u for h, u in (e.mentions or {}).items() if u != to}
                await _mentions(
                    conn, mentions, e.author_id, "comment", e.comment_id, e.post_id, e.added_at
                )
            case CommentEdited():
                author = await _owner(conn, "comment", e.comment_id)
                if author is not None and not e.held:
                    await _mentions(
                        conn, e.mentions, author[0], "comment", e.comment_id, e.post_id, e.edited_at
                    )
            case PostDeleted():
                await conn.execute(
                    "DELETE FROM notifications WHERE post_id = $1 OR target_id = $1", e.post_id
                )
            case CommentDeleted():
                await conn.execute("DELETE FROM notifications WHERE target_id = $1", e.comment_id)
            case DecisionTaken() if e.actions != ["dismiss"] or e.auto_hidden:
                decision = {
                    "decision_id": e.decision_id,
                    "actions": e.actions,
                    "appeal_until": (e.at + APPEAL_WINDOW).isoformat(),
                }
                await _moderated(
                    conn, f"moderation:{e.decision_id}", e.author_id, e, content_state(e),
                    e.reason, decision,
                )  # fmt: skip
            case CaseAutoHidden():
                await _moderated(
                    conn, f"moderation:{e.case_id}:hidden", e.author_id, e, "hidden",
                    AUTO_HIDE_REASON, None,
                )  # fmt: skip
            case AppealFiled() if e.decided_by:
                about = {"decision_id": e.decision_id, "appeal_id": e.appeal_id, "appeal": "filed"}
                target = await _case_target(conn, e.decision_id)
                if target is not None:
                    await _moderated(
                        conn, f"appeal:{e.appeal_id}:{e.decided_by}", e.decided_by,
                        msgspec.structs.replace(target, at=e.at), None, e.text, about,
                    )  # fmt: skip
            case AppealDecided():
                verdict = "approved" if e.approved else "rejected"
                about = {"decision_id": e.decision_id, "appeal_id": e.appeal_id, "appeal": verdict}
                state = content_state(e)
                for whom in dict.fromkeys(w for w in (e.author_id, e.decided_by) if w):
                    await _moderated(
                        conn, f"appeal:{e.appeal_id}:{whom}", whom, e, state, e.reason, about
                    )
            case ReactionAdded():
                await _reacted(conn, e, added=True)
            case ReactionRemoved():
                await _reacted(conn, e, added=False)
            case Followed():
                await _notify(
                    conn, f"follow:{e.follower_id}:{e.followee_id}", e.followee_id, "follow",
                    [e.follower_id], "user", e.follower_id, None, e.followed_at,
                )  # fmt: skip
            case NotificationsRead():
                await conn.execute(
                    """UPDATE notifications SET read = true
                       WHERE user_id = $1 AND NOT read
                         AND (CASE WHEN cardinality($2::text[]) = 0 THEN at <= $3
                                   ELSE id = ANY($2::text[]) END)""",
                    e.user_id,
                    e.ids,
                    e.at,
                )
            case NotificationSettingsChanged():
                await conn.execute(
                    """INSERT INTO settings (user_id, disabled, only_following) VALUES ($1, $2, $3)
                       ON CONFLICT (user_id) DO UPDATE
                       SET disabled = excluded.disabled, only_following = excluded.only_following""",
                    e.user_id,
                    e.disabled,
                    e.only_following,
                )
            case _:
                pass


async def _own(conn: asyncpg.Connection, kind: str, target: str, owner: str, post: str) -> None:
    await conn.execute(
        "INSERT INTO owners VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        kind,
        target,
        owner,
        post,
    )


async def _owner(conn: asyncpg.Connection, kind: str, target: str | None) -> tuple[str, str] | None:
    row = await conn.fetchrow(
        "SELECT owner, post_id FROM owners WHERE target_type = $1 AND target_id = $2", kind, target
    )
    return (row["owner"], row["post_id"]) if row else None


async def _notify(
    conn: asyncpg.Connection,
    notification_id: str,
    user_id: str,
    kind: str,
    actors: list[str],
    target_type: str,
    target_id: str,
    post_id: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO notifications (id, user_id, kind, actors, target_type, target_id, post_id, at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING""",
        notification_id, user_id, kind, actors, target_type, target_id, post_id, at,
    )  # fmt: skip


async def _mentions(
    conn: asyncpg.Connection,
    mentions: dict[str, str] | None,
    author: str,
    target_type: str,
    target_id: str,
    post_id: str,
    at: datetime,
) -> None:
    """A mention notifies its person once per post or comment (an edit mentioning someone
    new notifies them; one already notified is not notified again)."""
    for user_id in dict.fromkeys((mentions or {}).values()):
        if user_id != author:
            await _notify(
                conn, f"mention:{target_id}:{user_id}", user_id, "mention", [author],
                target_type, target_id, post_id, at,
            )  # fmt: skip


class _Target(msgspec.Struct, frozen=True):
    target_type: str
    target_id: str
    at: datetime


async def _moderated(
    conn: asyncpg.Connection,
    notification_id: str,
    user_id: str,
    about: Any,
    state: str | None,
    reason: str | None,
    decision: dict[str, Any] | None,
) -> None:
    """A moderation notification: a decision about one's content, its hiding pending review,
    or an appeal (to its author and to the moderator whose decision it questions), unread
    again when it changes. Nobody is named: `actors` is empty. Decisions are remembered
    (`decided`), so a moderator's appeal notification can link to what was decided."""
    post_id = about.target_id if about.target_type == "post" else None
    if about.target_type == "comment":
        owner = await _owner(conn, "comment", about.target_id)
        post_id = owner[1] if owner else None
    if decision is not None and "appeal" not in decision:
        await conn.execute(
            "INSERT INTO decided VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            decision["decision_id"], about.target_type, about.target_id,
        )  # fmt: skip
    await conn.execute(
        """INSERT INTO notifications (id, user_id, kind, actors, target_type, target_id, post_id,
                                      at, state, reason, decision)
           VALUES ($1, $2, 'moderation', '{}', $3, $4, $5, $6, $7, $8, $9::jsonb)
           ON CONFLICT (id) DO UPDATE
           SET at = $6, state = $7, reason = $8, decision = $9, read = false""",
        notification_id, user_id, about.target_type, about.target_id, post_id, about.at,
        state, reason, None if decision is None else msgspec.json.encode(decision).decode(),
    )  # fmt: skip


async def _case_target(conn: asyncpg.Connection, decision_id: str) -> _Target | None:
    row = await conn.fetchrow(
        "SELECT target_type, target_id FROM decided WHERE decision_id = $1", decision_id
    )
    return _Target(row["target_type"], row["target_id"], datetime.min) if row else None


async def _reacted(
    conn: asyncpg.Connection, e: ReactionAdded | ReactionRemoved, *, added: bool
) -> None:
    """One notification per reacted-to target, its actors the people with at least one kind
    on it, newest first: "Ada and 12 others"."""
    owner = await _owner(conn, e.target_type, e.target_id)
    if owner is None or owner[0] == e.user_id:
        return
    if added:
        changed = await conn.fetchval(
            """INSERT INTO reactions VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1""",
            e.target_type, e.target_id, e.user_id, e.kind,
        )  # fmt: skip
    else:
        changed = await conn.fetchval(
            """DELETE FROM reactions WHERE target_type = $1 AND target_id = $2 AND user_id = $3
               AND kind = $4 RETURNING 1""",
            e.target_type, e.target_id, e.user_id, e.kind,
        )  # fmt: skip
    if not changed:
        return
    still = await conn.fetchval(
        """SELECT count(*) FROM reactions WHERE target_type = $1 AND target_id = $2
           AND user_id = $3""",
        e.target_type, e.target_id, e.user_id,
    )  # fmt: skip
    notification_id = f"reaction:{e.target_id}:{owner[0]}"
    if added and still == 1:
        await conn.execute(
            """INSERT INTO notifications (id, user_id, kind, actors, target_type, target_id,
                                          post_id, at)
               VALUES ($1, $2, 'reaction', ARRAY[$3], $4, $5, $6, $7)
               ON CONFLICT (id) DO UPDATE
               SET actors = $3 || array_remove(notifications.actors, $3), at = $7, read = false""",
            notification_id, owner[0], e.user_id, e.target_type, e.target_id, owner[1], e.at,
        )  # fmt: skip
    elif not added and still == 0:
        await conn.execute(
            """UPDATE notifications SET actors = array_remove(actors, $2) WHERE id = $1""",
            notification_id,
            e.user_id,
        )
        await conn.execute(
            "DELETE FROM notifications WHERE id = $1 AND cardinality(actors) = 0", notification_id
        )


# -- queries -------------------------------------------------------------------------------

#: The actors a reader is shown: never someone blocked either way; with `only_following`,
#: only people the reader follows.
_SHOWN = """ARRAY(
    SELECT a FROM unnest(n.actors) WITH ORDINALITY AS x(a, i)
    WHERE NOT EXISTS (SELECT 1 FROM follows.blocks b
                      WHERE (b.blocker = $1::uuid AND b.blocked::text = a)
                         OR (b.blocked = $1::uuid AND b.blocker::text = a))
      AND (NOT coalesce(s.only_following, false)
           OR EXISTS (SELECT 1 FROM follows.follows f
                      WHERE f.follower = $1::uuid AND f.followee::text = a))
    ORDER BY i)"""


async def settings_of(pool: asyncpg.Pool, user_id: str) -> SettingsRow:
    row = await pool.fetchrow(
        "SELECT disabled, only_following FROM notifications.settings WHERE user_id = $1", user_id
    )
    return (
        SettingsRow(list(row["disabled"]), row["only_following"]) if row else SettingsRow([], False)
    )


#: Shown: what has actors left once filtered, and decisions of moderators (never named).
_VISIBLE = "(cardinality(actors) > 0 OR kind = 'moderation')"


async def list_for(
    pool: asyncpg.Pool,
    user_id: str,
    *,
    before: tuple[datetime, str] | None,
    limit: int,
    unread_only: bool,
) -> list[NotificationRow]:
    """Newest first, as the person chose (kinds, only people they follow) and without
    anyone blocked either way; a grouped notification lists only the actors shown, and a
    `message` one counts only their messages."""
    records = await pool.fetch(
        f"""
        SELECT shown.*,
               CASE WHEN kind = 'message' THEN (
                   SELECT count(*) FROM notifications.unread_messages u
                   WHERE u.notification_id = shown.id AND u.sender_id = ANY(shown.actors))
               ELSE cardinality(actors) END AS count
        FROM (
            SELECT n.id, n.kind, {_SHOWN} AS actors, n.target_type, n.target_id, n.post_id,
                   n.at, n.read, n.conversation_id, n.state, n.reason, n.decision
            FROM notifications.notifications n
            LEFT JOIN notifications.settings s ON s.user_id = n.user_id
            WHERE n.user_id = $1::text
              AND NOT (n.kind = ANY(coalesce(s.disabled, '{{}}')))
              AND ($2::timestamptz IS NULL OR (n.at, n.id) < ($2, $3))
              AND (NOT $4 OR NOT n.read)
            ORDER BY n.at DESC, n.id DESC
        ) shown
        WHERE {_VISIBLE}
        ORDER BY at DESC, id DESC
        LIMIT $5
        """,
        user_id,
        before[0] if before else None,
        before[1] if before else "",
        unread_only,
        limit,
    )
    return [_row(r) for r in records]


def _row(r: asyncpg.Record) -> NotificationRow:
    values = dict(r)
    if values["decision"] is not None:
        values["decision"] = msgspec.json.decode(values["decision"])
    return NotificationRow(**values)


async def unread_count(pool: asyncpg.Pool, user_id: str) -> int:
    """Unread notifications as `list_for` shows them (a hidden one is not counted)."""
    return int(
        await pool.fetchval(
            f"""SELECT count(*) FROM (
                    SELECT n.kind, {_SHOWN} AS actors
                    FROM notifications.notifications n
                    LEFT JOIN notifications.settings s ON s.user_id = n.user_id
                    WHERE n.user_id = $1::text AND NOT n.read
                      AND NOT (n.kind = ANY(coalesce(s.disabled, '{{}}')))
                ) shown WHERE {_VISIBLE}""",
            user_id,
        )
    )
