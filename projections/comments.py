"""The `comments` read model (PostgreSQL): comment threads under posts, oldest first, and
the number of live comments per post.

A comment's place is its `path`: the commit positions of its ancestors and its own, so the
thread is read in one ordered index scan (arrays compare element by element: a reply sorts
right after its parent's earlier replies) and a cursor is simply the last path shown. A
deleted comment stays as a tombstone that keeps the thread's shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.posts.events import CommentAdded, CommentDeleted, CommentEdited, CommentModerated
from projections.posts import body_html as _html


class CommentRow(msgspec.Struct, frozen=True):
    id: str
    post_id: str
    author_id: str
    body: str
    body_html: str
    reply_to: str | None
    path: list[int]
    depth: int
    added_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    moderation: str


class CommentsProjection(PgProjection):
    name: ClassVar[str] = "comments"
    # 2: moderation states; counts are of live comments anybody may see.
    version: ClassVar[int] = 2
    consumes: ClassVar[frozenset[str]] = frozenset(
        {CommentAdded.name, CommentEdited.name, CommentDeleted.name, CommentModerated.name}
    )
    ddl: ClassVar[str] = """
        CREATE TABLE comments (
            id uuid PRIMARY KEY,
            post_id uuid NOT NULL,
            author_id text NOT NULL,
            body text NOT NULL,
            body_html text NOT NULL,
            reply_to uuid,
            path bigint[] NOT NULL,
            depth int NOT NULL,
            added_at timestamptz NOT NULL,
            edited_at timestamptz,
            deleted_at timestamptz,
            moderation text NOT NULL DEFAULT 'visible',
            position bigint NOT NULL
        );
        CREATE INDEX comments_thread ON comments (post_id, path);
        CREATE TABLE comment_counts (
            post_id uuid PRIMARY KEY,
            comments int NOT NULL
        );
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        # Event by event: a reply in the same batch as its parent needs the parent's path.
        for recorded in events:
            await self._apply(conn, recorded.event, recorded.seq)

    async def _apply(self, conn: asyncpg.Connection, e: Any, seq: int) -> None:
        match e:
            case CommentAdded():
                # The counter moves only when the row is really new: an event applied twice
                # (a redelivered batch retried one by one) counts once. A comment the word
                # filter held is for its author's eyes only: not counted.
                await conn.execute(
                    """
                    WITH parent AS (
                        SELECT path FROM comments WHERE id = $4::uuid AND post_id = $2
                    ), added AS (
                        INSERT INTO comments (id, post_id, author_id, body, body_html, reply_to,
                                              path, depth, added_at, position, moderation)
                        SELECT $1, $2, $3, $5, $6, $4::uuid,
                               coalesce((SELECT path FROM parent), '{}') || $7::bigint,
                               coalesce(array_length((SELECT path FROM parent), 1), 0),
                               $8, $7, CASE WHEN $9 THEN 'held' ELSE 'visible' END
                        ON CONFLICT (id) DO NOTHING
                        RETURNING post_id
                    )
                    INSERT INTO comment_counts (post_id, comments)
                    SELECT post_id, CASE WHEN $9 THEN 0 ELSE 1 END FROM added
                    ON CONFLICT (post_id) DO UPDATE
                    SET comments = comment_counts.comments + excluded.comments
                    """,
                    e.comment_id,
                    e.post_id,
                    e.author_id,
                    e.reply_to,
                    e.body,
                    _html(e.body, e.mentions),
                    seq,
                    e.added_at,
                    e.held,
                )
            case CommentEdited():
                # The word filter holds a visible comment (one less counted); hidden or
                # removed stays so.
                await conn.execute(
                    """
                    WITH old AS (
                        SELECT moderation FROM comments
                        WHERE id = $1 AND position < $5 AND deleted_at IS NULL FOR UPDATE
                    ), changed AS (
                        UPDATE comments c SET body = $2, body_html = $3, edited_at = $4,
                               position = $5,
                               moderation = CASE WHEN $6 AND old.moderation = 'visible'
                                                 THEN 'held' ELSE c.moderation END
                        FROM old WHERE c.id = $1
                        RETURNING c.post_id, old.moderation AS was
                    )
                    UPDATE comment_counts n SET comments = n.comments - 1
                    FROM changed
                    WHERE $6 AND changed.was = 'visible' AND n.post_id = changed.post_id
                    """,
                    e.comment_id,
                    e.body,
                    _html(e.body, e.mentions),
                    e.edited_at,
                    seq,
                    e.held,
                )
            case CommentDeleted():
                await conn.execute(
                    """
                    WITH gone AS (
                        UPDATE comments SET deleted_at = $2, body = '', body_html = '',
                                            position = $3
                        WHERE id = $1 AND deleted_at IS NULL
                        RETURNING post_id, moderation
                    )
                    UPDATE comment_counts c SET comments = c.comments - 1
                    FROM gone WHERE c.post_id = gone.post_id AND gone.moderation = 'visible'
                    """,
                    e.comment_id,
                    e.deleted_at,
                    seq,
                )
            case CommentModerated():
                # The count follows what others may see: leaving `visible` takes one off,
                # coming back adds it again (a repeat of the same state changes nothing).
                await conn.execute(
                    """
                    WITH old AS (
                        SELECT moderation FROM comments
                        WHERE id = $1 AND position < $3 FOR UPDATE
                    ), changed AS (
                        UPDATE comments c SET moderation = $2, position = $3 FROM old
                        WHERE c.id = $1 AND c.position < $3
                        RETURNING c.post_id, c.deleted_at, old.moderation AS was
                    )
                    UPDATE comment_counts n SET comments = n.comments
                        + CASE WHEN $2 = 'visible' THEN 1 ELSE -1 END
                    FROM changed
                    WHERE n.post_id = changed.post_id AND changed.deleted_at IS NULL
                      AND (changed.was = 'visible') <> ($2 = 'visible')
                    """,
                    e.comment_id,
                    e.state,
                    seq,
                )
            case _:
                pass


# -- queries -----------------------------------------------------------------------------

Conn = asyncpg.Connection | asyncpg.Pool
_COLUMNS = """id::text, post_id::text, author_id, body, body_html, reply_to::text, path, depth,
    added_at, edited_at, deleted_at, moderation"""


def _row(r: asyncpg.Record) -> CommentRow:
    values = dict(r)
    values["path"] = list(values["path"])
    return CommentRow(**values)


async def get_comment(conn: Conn, comment_id: str) -> CommentRow | None:
    r = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM comments.comments WHERE id = $1::uuid", comment_id
    )
    return _row(r) if r else None


async def thread(
    conn: Conn,
    post_id: str,
    *,
    after: list[int] | None,
    limit: int,
    viewer: str | None,
    unseen_authors: set[str] | frozenset[str] = frozenset(),
) -> list[CommentRow]:
    """A post's comments in thread order (oldest first, replies under their parent), from
    after the path `after`. Hidden or held comments show only to their authors; live
    comments of `unseen_authors` (blocks either way) not at all."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM comments.comments
            WHERE post_id = $1::uuid AND ($2::bigint[] IS NULL OR path > $2::bigint[])
              AND (moderation = 'visible' OR author_id = $3)
              AND (deleted_at IS NOT NULL OR NOT author_id = ANY($5::text[]))
            ORDER BY path LIMIT $4""",
        post_id,
        after,
        viewer or "",
        limit,
        sorted(unseen_authors),
    )
    return [_row(r) for r in rows]


async def counts_for(conn: Conn, post_ids: list[str]) -> dict[str, int]:
    """Live comments per post, for a whole page of posts in one query."""
    if not post_ids:
        return {}
    rows = await conn.fetch(
        "SELECT post_id::text, comments FROM comments.comment_counts"
        " WHERE post_id = ANY($1::uuid[])",
        post_ids,
    )
    return {r["post_id"]: r["comments"] for r in rows}
