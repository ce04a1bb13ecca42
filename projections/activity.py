"""The `activity` read model (PostgreSQL): what each person did and what was done to their
account — sign-ins, profile changes, follows, posts, role and VIP changes — newest first.

Built from three streams (accounts, people, content); entries are ordered by the time of the
event, then by position. No personal value is copied here: entries name ids and kinds only,
so erasure leaves nothing readable behind (and an erased person's entries are dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.ids import is_uuid
from core.projection import PgProjection
from handlers.accounts import events as acc
from handlers.posts import events as posts
from handlers.profiles import events as prof


class ActivityRow(msgspec.Struct, frozen=True):
    kind: str
    at: datetime
    detail: dict[str, Any]
    cursor: tuple[str, str, int, int]


def _entries(event: Any) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """(user id, kind, time, detail) for everyone the event concerns."""
    match event:
        case acc.AccountRegistered():
            return [(event.user_id, "signed-up", event.registered_at, {})]
        case acc.SessionOpened() if event.method != "signup":
            return [(event.user_id, "signed-in", event.opened_at, {"device": event.device})]
        case acc.RoleGranted():
            d = {"role": event.role, "by": event.granted_by, "reason": event.reason}
            return [(event.user_id, "role-granted", event.granted_at, d)]
        case acc.RoleRevoked():
            d = {"role": event.role, "by": event.revoked_by, "reason": event.reason}
            return [(event.user_id, "role-revoked", event.revoked_at, d)]
        case acc.VipGranted():
            d = {"until": event.until.isoformat(), "by": event.granted_by, "reason": event.reason}
            return [(event.user_id, "vip-granted", event.granted_at, d)]
        case acc.AccountSuspended():
            d = {"by": event.suspended_by, "reason": event.reason}
            if event.until is not None:
                d["until"] = event.until.isoformat()
            return [(event.user_id, "suspended", event.suspended_at, d)]
        case acc.AccountUnsuspended():
            d = {"by": event.unsuspended_by, "reason": event.reason}
            return [(event.user_id, "unsuspended", event.unsuspended_at, d)]
        case acc.AccountLimited():
            d = {"by": event.limited_by, "reason": event.reason}
            return [(event.user_id, "limited", event.limited_at, d)]
        case acc.AccountUnlimited():
            d = {"by": event.unlimited_by, "reason": event.reason}
            return [(event.user_id, "unlimited", event.unlimited_at, d)]
        case acc.PasswordChanged():
            return [(event.user_id, "password-changed", event.changed_at, {"how": event.how})]
        case prof.ProfileUpdated():
            changed = sorted(
                name
                for name in ("display_name", "bio", "handle", "locale", "avatar_media_id")
                if getattr(event, name) is not None
            ) + (["avatar_media_id"] if event.avatar_cleared else [])
            return [(event.user_id, "profile-changed", event.updated_at, {"fields": changed})]
        case prof.Followed():
            return [
                (event.follower_id, "followed", event.followed_at, {"user": event.followee_id}),
                (event.followee_id, "got-follower", event.followed_at, {"user": event.follower_id}),
            ]
        case prof.Unfollowed():
            return [
                (event.follower_id, "unfollowed", event.unfollowed_at, {"user": event.followee_id})
            ]
        case prof.Blocked():
            return [(event.blocker_id, "blocked", event.blocked_at, {"user": event.blocked_id})]
        case prof.Unblocked():
            return [(event.blocker_id, "unblocked", event.unblocked_at, {"user": event.blocked_id})]
        case posts.PostPublished():
            return [(event.author_id, "posted", event.published_at, {"post": event.post_id})]
        case posts.PostEdited():
            return [(event.edited_by, "post-edited", event.edited_at, {"post": event.post_id})]
        case posts.PostDeleted():
            return [(event.deleted_by, "post-deleted", event.deleted_at, {"post": event.post_id})]
        case _:
            return []


_CONSUMED = (
    acc.AccountRegistered,
    acc.SessionOpened,
    acc.RoleGranted,
    acc.RoleRevoked,
    acc.VipGranted,
    acc.AccountSuspended,
    acc.AccountUnsuspended,
    acc.AccountLimited,
    acc.AccountUnlimited,
    acc.PasswordChanged,
    acc.AccountErased,
    prof.ProfileUpdated,
    prof.Followed,
    prof.Unfollowed,
    prof.Blocked,
    prof.Unblocked,
    posts.PostPublished,
    posts.PostEdited,
    posts.PostDeleted,
)


class ActivityProjection(PgProjection):
    name: ClassVar[str] = "activity"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(e.name for e in _CONSUMED)
    ddl: ClassVar[str] = """
        CREATE TABLE entries (
            user_id uuid NOT NULL,
            at timestamptz NOT NULL,
            stream text NOT NULL,
            position bigint NOT NULL,
            idx int NOT NULL,
            kind text NOT NULL,
            detail jsonb NOT NULL,
            PRIMARY KEY (user_id, stream, position, idx)
        );
        CREATE INDEX entries_newest ON entries (user_id, at DESC, stream DESC, position DESC);
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        rows = []
        for recorded in events:
            if isinstance(recorded.event, acc.AccountErased):
                # (Statement texts differ from security_log's on purpose: asyncpg caches
                # prepared statements by text per pooled connection, with their parameter
                # types, and the same text under another read model's search_path would
                # bring the other table's types.)
                await conn.execute(
                    "DELETE FROM entries WHERE user_id = $1::uuid /* activity */",
                    recorded.event.user_id,
                )
                continue
            for n, (user, kind, at, detail) in enumerate(_entries(recorded.event)):
                if is_uuid(user):
                    # Several events share a commit (seq): their index keeps entries apart.
                    idx = recorded.index * 16 + n
                    rows.append(
                        (user, at, recorded.stream, recorded.seq, idx, kind,
                         msgspec.json.encode(detail).decode())
                    )  # fmt: skip
        if rows:
            await conn.executemany(
                """INSERT INTO entries (user_id, at, stream, position, idx, kind, detail)
                   VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING""",
                rows,
            )


async def page(
    pool: asyncpg.Pool, user_id: str, *, before: list[Any] | None, limit: int
) -> list[ActivityRow]:
    """Newest first; `before` is the (at, stream, position, idx) of the last entry seen."""
    args: list[Any] = [user_id, limit]
    where = ""
    if before is not None:
        args += [datetime.fromisoformat(before[0]), before[1], int(before[2]), int(before[3])]
        where = "AND (at, stream, position, idx) < ($3, $4, $5, $6)"
    records = await pool.fetch(
        f"""SELECT kind, at, detail::text, stream, position, idx FROM activity.entries
            WHERE user_id = $1::uuid {where}
            ORDER BY at DESC, stream DESC, position DESC, idx DESC LIMIT $2""",
        *args,
    )
    return [
        ActivityRow(r[0], r[1], msgspec.json.decode(r[2]), (r[1].isoformat(), r[3], r[4], r[5]))
        for r in records
    ]
