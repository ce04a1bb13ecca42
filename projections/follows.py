"""The `follows` read model (PostgreSQL): who follows whom and who blocks whom — follower
lists, counters, and the block checks that keep a blocked person from a blocker's posts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.profiles.events import Blocked, Followed, Unblocked, Unfollowed


class FollowRow(msgspec.Struct, frozen=True):
    user_id: str
    since: datetime
    position: int


class FollowsProjection(PgProjection):
    name: ClassVar[str] = "follows"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(
        {Followed.name, Unfollowed.name, Blocked.name, Unblocked.name}
    )
    ddl: ClassVar[str] = """
        CREATE TABLE follows (
            follower uuid NOT NULL,
            followee uuid NOT NULL,
            since timestamptz NOT NULL,
            position bigint NOT NULL,
            PRIMARY KEY (follower, followee)
        );
        CREATE INDEX follows_followee ON follows (followee, position DESC);
        CREATE INDEX follows_follower ON follows (follower, position DESC);
        CREATE TABLE blocks (
            blocker uuid NOT NULL,
            blocked uuid NOT NULL,
            since timestamptz NOT NULL,
            PRIMARY KEY (blocker, blocked)
        );
        CREATE INDEX blocks_blocked ON blocks (blocked);
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            match recorded.event:
                case Followed() as e:
                    await conn.execute(
                        """INSERT INTO follows (follower, followee, since, position)
                           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                        e.follower_id,
                        e.followee_id,
                        e.followed_at,
                        recorded.seq,
                    )
                case Unfollowed() as e:
                    await conn.execute(
                        "DELETE FROM follows WHERE follower = $1 AND followee = $2",
                        e.follower_id,
                        e.followee_id,
                    )
                case Blocked() as e:
                    await conn.execute(
                        """INSERT INTO blocks (blocker, blocked, since) VALUES ($1, $2, $3)
                           ON CONFLICT DO NOTHING""",
                        e.blocker_id,
                        e.blocked_id,
                        e.blocked_at,
                    )
                case Unblocked() as e:
                    await conn.execute(
                        "DELETE FROM blocks WHERE blocker = $1 AND blocked = $2",
                        e.blocker_id,
                        e.blocked_id,
                    )
                case _:
                    pass


async def page(
    pool: asyncpg.Pool, user_id: str, *, direction: str, before: int | None, limit: int
) -> list[FollowRow]:
    """`followers` (who follows `user_id`) or `following`, newest first, keyset on position."""
    mine, other = ("followee", "follower") if direction == "followers" else ("follower", "followee")
    records = await pool.fetch(
        f"""SELECT {other}::text, since, position FROM follows.follows
            WHERE {mine} = $1::uuid AND ($2::bigint IS NULL OR position < $2)
            ORDER BY position DESC LIMIT $3""",
        user_id,
        before,
        limit,
    )
    return [FollowRow(*r.values()) for r in records]


async def counts(pool: asyncpg.Pool, user_id: str) -> tuple[int, int]:
    """(followers, following)."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM follows.follows WHERE followee = $1::uuid),
                  (SELECT count(*) FROM follows.follows WHERE follower = $1::uuid)""",
        user_id,
    )
    assert row is not None
    return int(row[0]), int(row[1])


async def blockers_of(pool: asyncpg.Pool, viewer: str) -> set[str]:
    """Everyone who blocked `viewer` (their posts are hidden from them)."""
    records = await pool.fetch(
        "SELECT blocker::text FROM follows.blocks WHERE blocked = $1::uuid", viewer
    )
    return {r[0] for r in records}


async def block_partners(pool: asyncpg.Pool, viewer: str) -> set[str]:
    """Everyone `viewer` blocked or was blocked by: neither finds the other in search."""
    records = await pool.fetch(
        """SELECT blocker::text FROM follows.blocks WHERE blocked = $1::uuid
           UNION SELECT blocked::text FROM follows.blocks WHERE blocker = $1::uuid""",
        viewer,
    )
    return {r[0] for r in records}


async def relationship(pool: asyncpg.Pool, viewer: str, other: str) -> tuple[bool, ...]:
    """(viewer follows other, other follows viewer, viewer blocks other, other blocks viewer)."""
    row = await pool.fetchrow(
        """SELECT
             EXISTS (SELECT 1 FROM follows.follows WHERE follower = $1::uuid AND followee = $2::uuid),
             EXISTS (SELECT 1 FROM follows.follows WHERE follower = $2::uuid AND followee = $1::uuid),
             EXISTS (SELECT 1 FROM follows.blocks WHERE blocker = $1::uuid AND blocked = $2::uuid),
             EXISTS (SELECT 1 FROM follows.blocks WHERE blocker = $2::uuid AND blocked = $1::uuid)""",
        viewer,
        other,
    )
    assert row is not None
    return tuple(bool(v) for v in row.values())
