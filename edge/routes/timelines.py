"""Timelines: my home timeline (the people I follow and me) and the public timeline.

A home page is read from Redis (the `timelines` read model, filled by fan-out on write)
when Redis can answer it exactly, and from PostgreSQL otherwise; both order by the
publishing commit's position (`published_seq`), which is also the cursor, so one walk may go
from Redis into PostgreSQL (past the cap) and back (after a rebuild) without skipping or
repeating. Which one answered is in the `Quark-Timeline-Source` header (`redis`,
`postgres`, or `redis+postgres` for a page that crossed the floor) — for operators and tests.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from core.projection_redis import RedisSink
from core.projection_worker import sink_for
from edge.auth import optional_principal, principal
from edge.context import db, infra, page_reads, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.routes.posts import CURSOR, PAGE_LIMIT, PostPage, post_views, wait_for_views
from edge.routing import Route
from projections.follows import FollowsProjection
from projections.posts import (
    NO_CURSOR,
    PostRow,
    PostsProjection,
    home_posts,
    home_posts_by_ids,
    public_posts,
)
from projections.timelines import HomeView, TimelinesProjection, home_candidates, home_view

_encoder = msgspec.json.Encoder()
SOURCE_HEADER = "Quark-Timeline-Source"

#: The PostgreSQL read models a home page's rows and filters come from, with the stream each
#: reads: Redis answers only once it has applied at least as much of each stream as they
#: have (otherwise it could miss a post or a follow they already show).
_PG_SOURCES = ((PostsProjection.name, "CONTENT"), (FollowsProjection.name, "PEOPLE"))


def _before(request: web.Request, scope: str) -> int:
    if "cursor" not in request.query:
        return NO_CURSOR
    before = decode_cursor(infra(request).secret_key, scope, request.query["cursor"]).get("p")
    if not isinstance(before, int) or before < 1:
        raise BadCursor()
    return before


def _refuse_unknown(request: web.Request) -> None:
    unknown = set(request.query) - {"limit", "cursor", "after"}
    if unknown:
        raise ValidationError(
            f"unknown query parameter {sorted(unknown)[0]!r}",
            errors=[FieldError(name, "unknown parameter") for name in sorted(unknown)],
        )


def _timelines_sink(request: web.Request) -> RedisSink:
    sink = sink_for(TimelinesProjection(), infra(request))
    assert isinstance(sink, RedisSink)
    return sink


async def _usable(request: web.Request, view: HomeView) -> bool:
    """Whether the Redis build has caught up with the PostgreSQL read models the page is
    filtered against. Not after Redis lost its keys (the build starts again from the
    beginning of the log) or while it is far behind: PostgreSQL answers meanwhile."""
    rows = await db(request).fetch(
        """SELECT c.projection, c.stream, c.position FROM quark.checkpoints c
           JOIN quark.projections p ON p.name = c.projection AND p.active_build = c.build
           WHERE (c.projection, c.stream) IN (($1, $2), ($3, $4))""",
        *(v for pair in _PG_SOURCES for v in pair),
    )
    return all(view.checkpoints.get(r["stream"], 0) >= r["position"] for r in rows)


async def _home_rows(
    request: web.Request, user: str, before: int, want: int
) -> tuple[list[PostRow], str]:
    """Up to `want` rows of `user`'s home below `before`, and where they came from."""
    pool = db(request)
    rows: list[PostRow] = []
    sources: list[str] = []
    view = await home_view(_timelines_sink(request), user)
    if view is not None and await _usable(request, view):
        sources.append("redis")
        # Over-fetch: deleted, hidden or no-longer-visible posts keep their slot in Redis
        # and are dropped by the query, so a page may need more than one round.
        batch = max(2 * want, 20)
        while len(rows) < want:
            candidates = await home_candidates(infra(request).redis, view, user, before, batch)
            if candidates:
                rows += await home_posts_by_ids(pool, user, [c[0] for c in candidates])
                before = candidates[-1][1]
            if len(candidates) < batch:
                # Redis has nothing more above its floor: PostgreSQL continues below it
                # (the entry at the floor itself is PostgreSQL's, never read from Redis).
                before = min(before, view.floor + 1)
                break
        rows = rows[:want]
    if len(rows) < want and before > 1 and (view is None or sources == [] or view.floor > 0):
        sources.append("postgres")
        rows += await home_posts(pool, user, before, want - len(rows))
    return rows, "+".join(sources) or "postgres"


def _json(value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def home_timeline(request: web.Request) -> web.Response:
    """Posts of the people I follow and my own, newest first (see the module docstring)."""
    who = await principal(request)
    _refuse_unknown(request)
    scope = f"home|{who.user_id}"
    limit = PAGE_LIMIT.read(request)
    before = _before(request, scope)
    for projection in (PostsProjection.name, FollowsProjection.name, TimelinesProjection.name):
        await wait_for_position(request, projection)
    await wait_for_views(request)
    async with page_reads(request):
        rows, source = await _home_rows(request, who.user_id, before, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        views = await post_views(request, page)
    cursor = (
        encode_cursor(infra(request).secret_key, scope, {"p": page[-1].published_seq})
        if more
        else None
    )
    return _json(PostPage(views, cursor), {SOURCE_HEADER: source})


async def public_timeline(request: web.Request) -> web.Response:
    """Every public post, newest first, as the reader may see it."""
    _refuse_unknown(request)
    viewer = await optional_principal(request)
    limit = PAGE_LIMIT.read(request)
    before = _before(request, "public")
    await wait_for_position(request, PostsProjection.name)
    await wait_for_position(request, FollowsProjection.name)
    await wait_for_views(request)
    async with page_reads(request):
        rows = await public_posts(
            db(request), viewer.user_id if viewer else None, before, limit + 1
        )
        page, more = rows[:limit], len(rows) > limit
        views = await post_views(request, page)
    cursor = (
        encode_cursor(infra(request).secret_key, "public", {"p": page[-1].published_seq})
        if more
        else None
    )
    return _json(PostPage(views, cursor))


ROUTES = [
    Route(
        "GET",
        "/v1/timelines/home",
        home_timeline,
        "My home timeline: my posts and those of the people I follow, newest first",
        "timelines",
        response=PostPage,
        raises=(BadCursor,),
        auth="bearer",
        after=True,
        name="home_timeline",
        params=(PAGE_LIMIT.param, CURSOR),
    ),
    Route(
        "GET",
        "/v1/timelines/public",
        public_timeline,
        "The public timeline: every public post, newest first",
        "timelines",
        response=PostPage,
        raises=(BadCursor,),
        auth="optional",
        after=True,
        name="public_timeline",
        params=(PAGE_LIMIT.param, CURSOR),
    ),
]
