"""The `posts` read model (PostgreSQL): one row per live post, newest first.

Lists are ordered by the position of the post's publishing commit (`published_seq`), not by
its id: ids made from a client's `Idempotency-Key` are not time-ordered, and a commit
position is the one key that only grows, so a page being read never shifts under
concurrent publishing (never skips, never repeats).

`apply` folds a whole batch in memory first, so a post published and edited in the same
batch is written once, and writes with array parameters (one statement per kind of change):
replaying the log is then bounded by PostgreSQL, not by round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.posts.events import PostDeleted, PostEdited, PostPublished

# The projection reads the posts context's events (its published contract), never its state.

#: The `posts` table's columns in the order `apply` builds new rows (COPY needs them named;
#: the bench's COPY ceiling writes the same rows).
ROW_COLUMNS = [
    "id",
    "author_id",
    "title",
    "body",
    "published_at",
    "edited_at",
    "position",
    "published_seq",
]
#: From this many new posts in one batch on, rows are written with COPY.
COPY_THRESHOLD = 500


class PostRow(msgspec.Struct, frozen=True):
    id: str
    author_id: str
    title: str
    body: str
    published_at: datetime
    edited_at: datetime | None
    position: int
    published_seq: int


class PostsProjection(PgProjection):
    name: ClassVar[str] = "posts"
    version: ClassVar[int] = 2
    consumes: ClassVar[frozenset[str]] = frozenset(
        {PostPublished.name, PostEdited.name, PostDeleted.name}
    )
    ddl: ClassVar[str] = """
        CREATE TABLE posts (
            id uuid PRIMARY KEY,
            author_id text NOT NULL,
            title text NOT NULL,
            body text NOT NULL,
            published_at timestamptz NOT NULL,
            edited_at timestamptz,
            position bigint NOT NULL,
            published_seq bigint NOT NULL
        );
        CREATE INDEX posts_published ON posts (published_seq DESC);
        CREATE INDEX posts_author_published ON posts (author_id, published_seq DESC);
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        new: dict[str, list[Any]] = {}
        edits: dict[str, list[Any]] = {}
        deletes: set[str] = set()
        for recorded in events:
            match recorded.event:
                case PostPublished() as e:
                    deletes.discard(e.post_id)
                    new[e.post_id] = [
                        e.post_id,
                        e.author_id,
                        e.title,
                        e.body,
                        e.published_at,
                        None,
                        recorded.seq,
                        recorded.seq,
                    ]
                case PostEdited() as e:
                    row = new.get(e.post_id)
                    if row is None:
                        row = edits.setdefault(
                            e.post_id, [e.post_id, None, None, None, recorded.seq]
                        )
                        row[1] = e.title if e.title is not None else row[1]
                        row[2] = e.body if e.body is not None else row[2]
                        row[3], row[4] = e.edited_at, recorded.seq
                    else:
                        row[2] = e.title if e.title is not None else row[2]
                        row[3] = e.body if e.body is not None else row[3]
                        row[5], row[6] = e.edited_at, recorded.seq
                case PostDeleted() as e:
                    new.pop(e.post_id, None)
                    edits.pop(e.post_id, None)
                    deletes.add(e.post_id)
                case _:
                    pass
        if deletes:
            await conn.execute("DELETE FROM posts WHERE id = ANY($1::uuid[])", list(deletes))
        if len(new) >= COPY_THRESHOLD:
            # Replays and catch-ups: COPY is several times cheaper per row than INSERT, and
            # a post is published once (expected sequence 0), so no row can exist already;
            # a batch that somehow conflicts fails whole and is retried event by event.
            await conn.copy_records_to_table(
                "posts",
                records=list(new.values()),
                columns=ROW_COLUMNS,
            )
        elif new:
            cols = list(zip(*new.values(), strict=True))
            await conn.execute(
                """
                INSERT INTO posts (id, author_id, title, body, published_at, edited_at, position,
                                   published_seq)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                                     $5::timestamptz[], $6::timestamptz[], $7::bigint[],
                                     $8::bigint[])
                ON CONFLICT (id) DO NOTHING
                """,
                *cols,
            )
        if edits:
            cols = list(zip(*edits.values(), strict=True))
            await conn.execute(
                """
                UPDATE posts p SET
                    title = coalesce(u.title, p.title),
                    body = coalesce(u.body, p.body),
                    edited_at = u.edited_at,
                    position = u.position
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])
                    AS u(id, title, body, edited_at, position)
                WHERE p.id = u.id
                """,
                *cols,
            )


# -- queries (the read side: plain SQL returning Structs) --------------------------------

_COLUMNS = "id::text, author_id, title, body, published_at, edited_at, position, published_seq"


def _row(record: asyncpg.Record) -> PostRow:
    return PostRow(*record.values())


async def get_post(conn: asyncpg.Connection | asyncpg.Pool, post_id: str) -> PostRow | None:
    record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM posts.posts WHERE id = $1::uuid", post_id)
    return _row(record) if record else None


async def list_posts(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    author_id: str | None,
    before_seq: int | None,
    before_time: datetime | None,
    limit: int,
) -> list[PostRow]:
    """Newest first. Keyset pagination on the publishing commit's position: stable under
    concurrent inserts (new posts have larger positions, so they never shift a page that
    is being read)."""
    clauses, args = [], []
    if author_id is not None:
        args.append(author_id)
        clauses.append(f"author_id = ${len(args)}")
    if before_seq is not None:
        args.append(before_seq)
        clauses.append(f"published_seq < ${len(args)}")
    if before_time is not None:
        args.append(before_time)
        clauses.append(f"published_at < ${len(args)}")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    args.append(limit)
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM posts.posts {where} ORDER BY published_seq DESC LIMIT ${len(args)}",
        *args,
    )
    return [_row(r) for r in records]
