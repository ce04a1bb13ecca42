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

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.posts.commands import BODY_MAX
from handlers.posts.events import PostDeleted, PostEdited, PostModerated, PostPublished
from handlers.posts.markdown import plain_text, render

# The projection reads the posts context's events (its published contract), never its state.

#: The `posts` table's columns in the order `apply` builds new rows (COPY needs them named;
#: the bench's COPY ceiling writes the same rows).
ROW_COLUMNS = [
    "id",
    "author_id",
    "title",
    "body",
    "body_html",
    "published_at",
    "edited_at",
    "position",
    "published_seq",
    "visibility",
    "category",
    "media_ids",
    "tags",
    "body_text",
]
#: From this many new posts in one batch on, rows are written with COPY.
COPY_THRESHOLD = 500


def mention_url(handle: str) -> str:
    return f"/@{handle}"


def tag_url(tag: str) -> str:
    return f"/tags/{quote(tag, safe='')}"


def body_text(body: str) -> str:
    """The body as a reader sees it, without markup: what search indexes and quotes."""
    return plain_text(body, limit=BODY_MAX)


def body_html(body: str, mentions: dict[str, str] | None = None) -> str:
    """The body as the sanitised HTML every view carries (rendered here, at projection
    time: a better renderer later is a replay away). Only `mentions` — the handles that
    belonged to someone when it was written — become links; None (events from before the
    check) links every one."""
    if mentions is None:
        return render(body, mention_url=mention_url, tag_url=tag_url)
    known = set(mentions)
    return render(
        body, mention_url=lambda h: mention_url(h) if h in known else None, tag_url=tag_url
    )


class PostRow(msgspec.Struct, frozen=True):
    id: str
    author_id: str
    title: str | None
    body: str
    body_html: str
    published_at: datetime
    edited_at: datetime | None
    position: int
    published_seq: int
    visibility: str
    category: str | None
    media_ids: list[str]
    tags: list[str]
    deleted_at: datetime | None
    moderation: str


class PostVersion(msgspec.Struct, frozen=True):
    version: int
    title: str | None
    body: str
    body_html: str
    at: datetime
    by: str


def _rendering(e: PostPublished | PostEdited) -> tuple[str | None, str | None]:
    """A body's HTML and plain text (None and None for an edit that keeps the body)."""
    if e.body is None:
        return None, None
    return body_html(e.body, e.mentions), body_text(e.body)


#: Bodies rendered ahead by `prepare`, by the event object's id (the event is kept beside
#: them, so an id is never another object's while it is here).
_Prepared = dict[int, tuple[Any, str | None, str | None]]


class PostsProjection(PgProjection):
    name: ClassVar[str] = "posts"
    # 3: Markdown bodies rendered, visibility, category, attachments, tags, tombstones,
    # edit history and a moderation state (issue 10).
    # 4: full-text search (`body_text`, the `search` document and its GIN index), the `tags`
    # counts and the index of recent tagged posts (trending).
    version: ClassVar[int] = 4
    consumes: ClassVar[frozenset[str]] = frozenset(
        {PostPublished.name, PostEdited.name, PostDeleted.name, PostModerated.name}
    )
    # Every write finds its row by primary key (posts by id, versions by post and version,
    # tags by tag): a replay builds the other indexes once its rows are in.
    defer_indexes: ClassVar[bool] = True
    ddl: ClassVar[str] = """
        CREATE TABLE posts (
            id uuid PRIMARY KEY,
            author_id text NOT NULL,
            title text,
            body text NOT NULL,
            body_html text NOT NULL,
            published_at timestamptz NOT NULL,
            edited_at timestamptz,
            position bigint NOT NULL,
            published_seq bigint NOT NULL,
            visibility text NOT NULL DEFAULT 'public',
            category text,
            media_ids text[] NOT NULL DEFAULT '{}',
            tags text[] NOT NULL DEFAULT '{}',
            deleted_at timestamptz,
            -- visible | hidden | held (the moderation context changes it).
            moderation text NOT NULL DEFAULT 'visible',
            -- The body's text without markup (`body_text()`): indexed and quoted by search.
            body_text text NOT NULL DEFAULT '',
            -- The search document (docs/architecture.md, "Search"). The `russian`
            -- configuration stems Cyrillic words with the Russian Snowball stemmer and ASCII
            -- words with the English one, so one vector serves both languages; `simple`
            -- keeps the words as written for the prefix of the word being typed (a stem
            -- such as 'run' is no prefix of 'runn'). Weights: A stemmed title, B stemmed
            -- body, C title as written, D body as written.
            search tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('russian'::regconfig, coalesce(title, '')), 'A')
                || setweight(to_tsvector('russian'::regconfig, body_text), 'B')
                || setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'C')
                || setweight(to_tsvector('simple'::regconfig, body_text), 'D')
            ) STORED
        );
        CREATE INDEX posts_published ON posts (published_seq DESC) WHERE deleted_at IS NULL;
        CREATE INDEX posts_author_published ON posts (author_id, published_seq DESC)
            WHERE deleted_at IS NULL;
        CREATE INDEX posts_tags ON posts USING gin (tags) WHERE deleted_at IS NULL;
        CREATE INDEX posts_category ON posts (category, published_seq DESC)
            WHERE deleted_at IS NULL AND category IS NOT NULL;
        CREATE INDEX posts_search ON posts USING gin (search) WHERE deleted_at IS NULL;
        -- Trending reads the tagged posts of the last day.
        CREATE INDEX posts_tagged_recent ON posts (published_at)
            WHERE deleted_at IS NULL AND tags <> '{}';
        -- How many public, visible, live posts carry each tag (search by tag prefix, most
        -- used first). C collation: a LIKE prefix uses the primary key.
        CREATE TABLE tags (
            tag text COLLATE "C" PRIMARY KEY,
            posts integer NOT NULL
        );
        CREATE TABLE post_versions (
            post_id uuid NOT NULL,
            version int NOT NULL,
            title text,
            body text NOT NULL,
            body_html text NOT NULL,
            at timestamptz NOT NULL,
            by_user text NOT NULL,
            PRIMARY KEY (post_id, version)
        );
    """

    #: The last three prepared batches: while a replay commits one, another waits its
    #: turn and the loop prepares a third.
    _prepared: tuple[_Prepared, ...] = ()

    def prepare(self, events: Sequence[RecordedEvent]) -> None:
        # Markdown rendering is most of this read model's CPU in a replay (a fifth of its
        # time measured in `bench kernel`'s figure 3): done here, it overlaps the COPY of
        # the batch before.
        rendered: _Prepared = {
            id(r.event): (r.event, *_rendering(r.event))
            for r in events
            if isinstance(r.event, PostPublished | PostEdited)
        }
        self._prepared = (rendered, *self._prepared[:2])

    def _rendered(self, e: PostPublished | PostEdited) -> tuple[str | None, str | None]:
        # Taken, not read: once a replay has applied its batches nothing stays held here
        # (a live worker's projection replays when its version changes, then lives on).
        for generation in self._prepared:
            hit = generation.pop(id(e), None)
            if hit is not None and hit[0] is e:
                return hit[1], hit[2]
        return _rendering(e)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        # New posts are gathered and written together (COPY for replays); an edit or a
        # deletion first writes what is pending, so statements apply in log order. Tag
        # counts only add up, so their changes are summed over the batch and written once.
        new: dict[str, list[Any]] = {}
        #: New posts of `new` that the word filter held.
        held: set[str] = set()
        tag_counts: Counter[str] = Counter()
        for recorded in events:
            match recorded.event:
                case PostPublished() as e:
                    html, text = self._rendered(e)
                    new[e.post_id] = [
                        e.post_id,
                        e.author_id,
                        e.title,
                        e.body,
                        html,
                        e.published_at,
                        None,
                        recorded.seq,
                        recorded.seq,
                        e.visibility,
                        e.category,
                        list(e.media_ids),
                        list(e.tags),
                        text,
                    ]
                    if e.held:
                        held.add(e.post_id)
                case PostEdited() as e:
                    await self._write_new(conn, new, tag_counts, held)
                    await self._edit(conn, e, recorded.seq, tag_counts)
                case PostDeleted() as e:
                    await self._write_new(conn, new, tag_counts, held)
                    await self._change(
                        conn, "deleted_at = $2", e.post_id, e.deleted_at, recorded.seq, tag_counts
                    )
                case PostModerated() as e:
                    await self._write_new(conn, new, tag_counts, held)
                    await self._change(
                        conn, "moderation = $2", e.post_id, e.state, recorded.seq, tag_counts
                    )
                case _:
                    pass
        await self._write_new(conn, new, tag_counts, held)
        changed = {tag: n for tag, n in tag_counts.items() if n}
        if changed:
            await conn.execute(
                """INSERT INTO tags (tag, posts)
                   SELECT * FROM unnest($1::text[], $2::int[])
                   ON CONFLICT (tag) DO UPDATE SET posts = tags.posts + excluded.posts""",
                list(changed),
                list(changed.values()),
            )

    async def _write_new(
        self,
        conn: asyncpg.Connection,
        new: dict[str, list[Any]],
        tag_counts: Counter[str],
        held: set[str],
    ) -> None:
        if not new:
            return
        rows = list(new.values())
        new.clear()
        # A held post is there for its author only: its tags are not counted.
        held_now = {row[0] for row in rows if row[0] in held}
        held.clear()
        for row in rows:
            if row[9] == "public" and row[0] not in held_now:
                tag_counts.update(row[12])  # a new post is live and visible
        fresh = {uuid.UUID(row[0]) for row in rows}
        if len(rows) >= COPY_THRESHOLD:
            # Replays and catch-ups: COPY is several times cheaper per row than INSERT, and
            # a post is published once (expected sequence 0), so no row can exist already;
            # a batch that somehow conflicts fails whole and is retried event by event.
            await conn.copy_records_to_table("posts", records=rows, columns=ROW_COLUMNS)
        else:
            cols = list(zip(*rows, strict=True))
            inserted = await conn.fetch(
                f"""
                INSERT INTO posts ({", ".join(ROW_COLUMNS)})
                SELECT id, author, title, body, html, at, edited, pos, seq, vis, cat,
                       string_to_array(media, ','), string_to_array(tags, ','), txt
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                            $6::timestamptz[], $7::timestamptz[], $8::bigint[], $9::bigint[],
                            $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
                    AS u(id, author, title, body, html, at, edited, pos, seq, vis, cat, media,
                         tags, txt)
                ON CONFLICT (id) DO NOTHING
                RETURNING id::text
                """,
                *cols[:11],
                # Arrays of arrays cannot be unnested row by row; ids and tags hold no comma.
                [",".join(m) for m in cols[11]],
                [",".join(t) for t in cols[12]],
                cols[13],
            )
            if len(inserted) < len(rows):
                # A redelivered post is counted once: take back the rows that were there.
                fresh = {uuid.UUID(r[0]) for r in inserted}
                for row in rows:
                    counted = row[9] == "public" and row[0] not in held_now
                    if uuid.UUID(row[0]) not in fresh and counted:
                        tag_counts.subtract(row[12])
        if held_now:
            # Only rows written now: a redelivered post keeps whatever state it has since.
            await conn.execute(
                "UPDATE posts SET moderation = 'held' WHERE id = ANY($1::uuid[])",
                list(fresh & {uuid.UUID(i) for i in held_now}),
            )
        # The first version of each, in one statement, copied from the rows just written
        # rather than sent again: a batch's bodies cross the wire once (a post written
        # before, on a redelivery, keeps the version 1 it has).
        await conn.execute(
            """INSERT INTO post_versions (post_id, version, title, body, body_html, at, by_user)
               SELECT id, 1, title, body, body_html, published_at, author_id
               FROM posts WHERE id = ANY($1::uuid[])
               ON CONFLICT DO NOTHING""",
            [r[0] for r in rows],
        )

    async def _change(
        self,
        conn: asyncpg.Connection,
        assignment: str,
        post_id: str,
        value: object,
        seq: int,
        tag_counts: Counter[str],
    ) -> None:
        """Set one column (`assignment` with `value` as $2) of a post, and follow its tags
        in and out of the counts."""
        changed = await conn.fetchrow(
            f"""UPDATE posts p SET {assignment}, position = $3
                FROM (SELECT tags, {_COUNTED} AS counted FROM posts WHERE id = $1) old
                WHERE p.id = $1 AND p.position < $3
                RETURNING old.tags AS old_tags, old.counted, p.tags, {_COUNTED_P} AS now""",
            post_id,
            value,
            seq,
        )
        _recount(tag_counts, changed)

    async def _edit(
        self, conn: asyncpg.Connection, e: PostEdited, seq: int, tag_counts: Counter[str]
    ) -> None:
        html, text = self._rendered(e)
        changed = await conn.fetchrow(
            f"""
            UPDATE posts p SET
                title = CASE WHEN $2 THEN NULL ELSE coalesce($3, p.title) END,
                body = coalesce($4, p.body),
                body_html = coalesce($5, p.body_html),
                tags = coalesce($6, p.tags),
                visibility = coalesce($7, p.visibility),
                edited_at = $8,
                position = $9,
                body_text = coalesce($10, p.body_text),
                -- The word filter holds a visible post; hidden or removed stays so.
                moderation = CASE WHEN $11 AND p.moderation = 'visible' THEN 'held'
                                  ELSE p.moderation END
            FROM (SELECT tags, {_COUNTED} AS counted FROM posts WHERE id = $1) old
            WHERE p.id = $1 AND p.position < $9
            RETURNING p.title, p.body, p.body_html, old.tags AS old_tags, old.counted, p.tags,
                {_COUNTED_P} AS now
            """,
            e.post_id,
            e.title_cleared,
            e.title,
            e.body,
            html,
            e.tags,
            e.visibility,
            e.edited_at,
            seq,
            text,
            e.held,
        )
        _recount(tag_counts, changed)
        if changed is not None and (e.body is not None or e.title is not None or e.title_cleared):
            await conn.execute(
                """INSERT INTO post_versions (post_id, version, title, body, body_html, at, by_user)
                   SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6
                   FROM post_versions WHERE post_id = $1""",
                e.post_id,
                changed["title"],
                changed["body"],
                changed["body_html"],
                e.edited_at,
                e.edited_by,
            )


#: Whether a post's tags count (in `tags` and trending): public, visible and live, so a
#: followers-only or hidden post never makes its tag known.
_COUNTED = "(deleted_at IS NULL AND moderation = 'visible' AND visibility = 'public')"
_COUNTED_P = "(p.deleted_at IS NULL AND p.moderation = 'visible' AND p.visibility = 'public')"


def _recount(tag_counts: Counter[str], changed: asyncpg.Record | None) -> None:
    """Take a changed post's tags out of the counts as they were, put them in as they are."""
    if changed is None:
        return
    if changed["counted"]:
        tag_counts.subtract(changed["old_tags"])
    if changed["now"]:
        tag_counts.update(changed["tags"])


# -- queries (the read side: plain SQL returning Structs) --------------------------------

_COLUMNS = """p.id::text, p.author_id, p.title, p.body, p.body_html, p.published_at, p.edited_at,
    p.position, p.published_seq, p.visibility, p.category, p.media_ids, p.tags, p.deleted_at,
    p.moderation"""

#: Who may see a post: anyone when it is public, its author always, followers when it is
#: for followers; hidden or held posts only by their author. `$viewer` is '' when nobody
#: signed in.
_VISIBLE = """(
    (p.moderation = 'visible' OR p.author_id = {viewer})
    AND (p.visibility = 'public' OR p.author_id = {viewer}
         OR EXISTS (SELECT 1 FROM follows.follows f
                    WHERE f.follower = nullif({viewer}, '')::uuid
                      AND f.followee = p.author_id::uuid))
)"""


#: A limited person's posts reach only their followers and themself (Mastodon's "limit"):
#: every public listing — the public timeline, a tag, a category, all posts or one author's,
#: search, trending — leaves them out for anyone else; a home timeline (followers) and the
#: post's own link keep them. The limit is the accounts context's, kept by the profiles read
#: model. `NOT IN` over a subquery that names no post is computed once per query (a hashed
#: SubPlan: the limited people, from the partial index of the limited, less those the viewer
#: follows) and probed per post; the correlated `NOT EXISTS` it replaced became a merge anti
#: join that sorted every search candidate (80 ms instead of 6 on 400,000 posts).
#: `{viewer}`: '' for nobody.
NOT_LIMITED = """p.author_id::uuid NOT IN (
    SELECT a.user_id FROM profiles.profiles a
    WHERE a.limited AND a.user_id IS DISTINCT FROM nullif({viewer}, '')::uuid
      AND NOT EXISTS (SELECT 1 FROM follows.follows l
                      WHERE l.follower = nullif({viewer}, '')::uuid AND l.followee = a.user_id)
)"""


def _row(record: asyncpg.Record) -> PostRow:
    return PostRow(*record.values())


async def get_post(conn: asyncpg.Connection | asyncpg.Pool, post_id: str) -> PostRow | None:
    """The post as stored, deleted or not (a tombstone answers 410)."""
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM posts.posts p WHERE p.id = $1::uuid", post_id
    )
    return _row(record) if record else None


async def can_see(
    conn: asyncpg.Connection | asyncpg.Pool, row: PostRow, viewer: str | None
) -> bool:
    """Whether `viewer` may see `row` (its audience, its moderation state)."""
    who = viewer or ""
    if row.author_id == who:
        return True
    if row.moderation != "visible":
        return False
    if row.visibility == "public":
        return True
    if not who:
        return False
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM follows.follows WHERE follower = $1::uuid"
            " AND followee = $2::uuid)",
            who,
            row.author_id,
        )
    )


async def history(conn: asyncpg.Connection | asyncpg.Pool, post_id: str) -> list[PostVersion]:
    rows = await conn.fetch(
        """SELECT version, title, body, body_html, at, by_user FROM posts.post_versions
           WHERE post_id = $1::uuid ORDER BY version""",
        post_id,
    )
    return [PostVersion(*r.values()) for r in rows]


async def list_posts(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    author_id: str | None,
    before_seq: int | None,
    before_time: datetime | None,
    limit: int,
    viewer: str | None = None,
    tag: str | None = None,
    category: str | None = None,
    hidden_authors: set[str] | frozenset[str] = frozenset(),
) -> list[PostRow]:
    """Newest first, only what `viewer` may see. Keyset pagination on the publishing
    commit's position: stable under concurrent inserts (new posts have larger positions,
    so they never shift a page that is being read)."""
    args: list[Any] = [viewer or ""]
    clauses = [
        "p.deleted_at IS NULL",
        _VISIBLE.format(viewer="$1"),
        NOT_LIMITED.format(viewer="$1"),
    ]
    if author_id is not None:
        args.append(author_id)
        clauses.append(f"p.author_id = ${len(args)}")
    if tag is not None:
        args.append([tag])
        clauses.append(f"p.tags @> ${len(args)}::text[]")
    if category is not None:
        args.append(category)
        clauses.append(f"p.category = ${len(args)}")
    if hidden_authors:
        # Authors who blocked the reader are left out here, not after the LIMIT: a page is
        # then always full when there is more to read.
        args.append(sorted(hidden_authors))
        clauses.append(f"NOT (p.author_id = ANY(${len(args)}::text[]))")
    if before_seq is not None:
        args.append(before_seq)
        clauses.append(f"p.published_seq < ${len(args)}")
    if before_time is not None:
        args.append(before_time)
        clauses.append(f"p.published_at < ${len(args)}")
    args.append(limit)
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM posts.posts p WHERE {' AND '.join(clauses)}"
        f" ORDER BY p.published_seq DESC LIMIT ${len(args)}",
        *args,
    )
    return [_row(r) for r in records]


# -- timelines (the `timelines` Redis read model picks candidates; the rows come from here)

#: Neither the author blocked the viewer nor the viewer the author (two probes of the
#: blocks' primary key; an OR inside one subquery would not use it).
_NOT_BLOCKED = """(
    NOT EXISTS (SELECT 1 FROM follows.blocks b WHERE b.blocker = p.author_id::uuid
                AND b.blocked = nullif({viewer}, '')::uuid)
    AND NOT EXISTS (SELECT 1 FROM follows.blocks b WHERE b.blocker = nullif({viewer}, '')::uuid
                    AND b.blocked = p.author_id::uuid)
)"""

#: A home timeline holds the viewer's own posts and those of the people they follow.
_IN_HOME = """(p.author_id = {viewer} OR EXISTS (
    SELECT 1 FROM follows.follows h WHERE h.follower = {viewer}::uuid
      AND h.followee = p.author_id::uuid))"""

#: Larger than any published_seq: "no cursor yet".
NO_CURSOR = 2**63 - 1


async def home_posts_by_ids(
    conn: asyncpg.Connection | asyncpg.Pool, viewer: str, ids: list[str]
) -> list[PostRow]:
    """The rows of candidate posts of `viewer`'s home (from Redis), newest first, keeping
    only what belongs there now and what they may see: live, in the audience, not hidden by
    moderation, no block either way, still followed. One query for the whole batch."""
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM posts.posts p
            WHERE p.id = ANY($2::uuid[]) AND p.deleted_at IS NULL
              AND {_IN_HOME.format(viewer="$1")} AND {_VISIBLE.format(viewer="$1")}
              AND {_NOT_BLOCKED.format(viewer="$1")}
            ORDER BY p.published_seq DESC""",
        viewer,
        ids,
    )
    return [_row(r) for r in records]


async def home_posts(
    conn: asyncpg.Connection | asyncpg.Pool, viewer: str, before: int, limit: int
) -> list[PostRow]:
    """`viewer`'s home timeline from PostgreSQL (past the Redis cap, or without Redis):
    newest first, `published_seq < before`. For each followed author (and the viewer) the
    newest `limit` posts come from the `posts_author_published` index, then merge: the cost
    grows with the number of people followed times the page size, never with how many
    posts they ever wrote."""
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM (
                SELECT followee::text AS author FROM follows.follows WHERE follower = $1::text::uuid
                UNION SELECT $1::text
            ) a
            CROSS JOIN LATERAL (
                SELECT * FROM posts.posts p
                WHERE p.author_id = a.author AND p.deleted_at IS NULL
                  AND p.published_seq < $2
                  AND {_VISIBLE.format(viewer="$1")} AND {_NOT_BLOCKED.format(viewer="$1")}
                ORDER BY p.published_seq DESC LIMIT $3
            ) p
            ORDER BY p.published_seq DESC LIMIT $3""",
        viewer,
        before,
        limit,
    )
    return [_row(r) for r in records]


async def public_posts(
    conn: asyncpg.Connection | asyncpg.Pool, viewer: str | None, before: int, limit: int
) -> list[PostRow]:
    """The public timeline: public posts, newest first, without what moderation hides from
    the viewer, without authors who blocked the viewer or whom the viewer blocked, and
    without limited authors the viewer does not follow."""
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM posts.posts p
            WHERE p.deleted_at IS NULL AND p.visibility = 'public' AND p.published_seq < $2
              AND {_VISIBLE.format(viewer="$1")} AND {_NOT_BLOCKED.format(viewer="$1")}
              AND {NOT_LIMITED.format(viewer="$1")}
            ORDER BY p.published_seq DESC LIMIT $3""",
        viewer or "",
        before,
        limit,
    )
    return [_row(r) for r in records]
