"""Posts: publish, edit, delete, read one, list (newest first, cursor pagination)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from core.ids import is_uuid
from core.projection import RedisSink
from edge.auth import optional_principal, principal, send_as
from edge.bodies import read_json
from edge.context import (
    command_headers,
    created_id,
    infra,
    path_id,
    wait_for_position,
)
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import IntQuery
from edge.routing import Param, Route
from handlers.posts.commands import Body, DeletePost, EditPost, PublishPost, Title
from handlers.posts.errors import EmptyPost, NotPostAuthor, PostAlreadyExists, PostNotFound
from handlers.reactions.commands import Kind
from projections import author_stats
from projections import follows as follows_model
from projections import reactions as reactions_model
from projections.author_stats import AuthorStatsProjection
from projections.posts import PostRow, get_post, list_posts
from projections.reactions import Counts, ReactionsProjection

PROJECTION = "posts"
_encoder = msgspec.json.Encoder()


class PublishPostBody(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    body: Body


class EditPostBody(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay as they are; null is not a value (a post cannot lose its title)."""

    #: An edit must change something (checked in the route; the schema says so too).
    __openapi_extra__: ClassVar[dict[str, object]] = {"minProperties": 1}
    title: Title | msgspec.UnsetType = msgspec.UNSET
    body: Body | msgspec.UnsetType = msgspec.UNSET


class CommandResult(msgspec.Struct):
    id: str
    position: str


class PostView(msgspec.Struct):
    id: str
    author_id: str
    title: str
    body: str
    published_at: datetime
    edited_at: datetime | None
    #: How many people reacted with each kind; a kind nobody used is absent.
    reactions: Counts
    #: The reader's own reactions (empty for an anonymous reader).
    my_reactions: list[Kind]


class PostPage(msgspec.Struct):
    items: list[PostView]
    next_cursor: str | None


class AuthorStats(msgspec.Struct):
    author_id: str
    posts: int


async def _views(request: web.Request, rows: list[PostRow]) -> list[PostView]:
    """Post views with their reactions: one query for the counts of the whole page and one
    for the reader's own, whatever the page's size."""
    if not rows:
        return []
    pool = infra(request).pool
    await wait_for_position(request, ReactionsProjection.name)
    ids = [r.id for r in rows]
    counts = await reactions_model.counts_for(pool, "post", ids)
    viewer = await optional_principal(request)
    mine = (
        await reactions_model.mine_for(pool, "post", ids, viewer.user_id)
        if viewer is not None
        else {}
    )
    return [
        PostView(
            r.id,
            r.author_id,
            r.title,
            r.body,
            r.published_at,
            r.edited_at,
            counts[r.id],  # type: ignore[arg-type]
            reactions_model.ordered(mine.get(r.id, ())),  # type: ignore[arg-type]
        )
        for r in rows
    ]


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def publish_post(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, PublishPostBody, max_bytes=i.settings.max_body_bytes)
    post_id = created_id(request, "post")
    reply = await send_as(
        request,
        PublishPost(post_id=post_id, title=body.title, body=body.body),
        who,
    )
    headers = {**command_headers(reply), "Location": f"/v1/posts/{post_id}"}
    return _json(201, CommandResult(post_id, reply.position or ""), headers)


async def edit_post(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    post_id = path_id(request, "post_id", PostNotFound)
    body = await read_json(request, EditPostBody, max_bytes=i.settings.max_body_bytes)
    if body.title is msgspec.UNSET and body.body is msgspec.UNSET:
        raise ValidationError(
            "nothing to change", errors=[FieldError("$", "send title, body or both")]
        )
    reply = await send_as(
        request,
        EditPost(
            post_id=post_id,
            title=None if body.title is msgspec.UNSET else body.title,
            body=None if body.body is msgspec.UNSET else body.body,
        ),
        who,
    )
    return _json(200, CommandResult(post_id, reply.position or ""), command_headers(reply))


async def delete_post(request: web.Request) -> web.Response:
    who = await principal(request)
    post_id = path_id(request, "post_id", PostNotFound)
    reply = await send_as(
        request,
        DeletePost(post_id=post_id),
        who,
    )
    return _json(200, CommandResult(post_id, reply.position or ""), command_headers(reply))


async def visible_post(request: web.Request) -> PostRow:
    """The post of the path's `post_id` as the reader may see it: it exists in the posts
    read model (at the position the read must see) and its author has not blocked the
    reader. Anything else is `PostNotFound`, so a blocked person learns nothing more than
    of a post that never was."""
    post_id = path_id(request, "post_id", PostNotFound)
    await wait_for_position(request, PROJECTION)
    row = await get_post(infra(request).pool, post_id)
    if row is None or row.author_id in await _hidden_authors(request):
        raise PostNotFound()
    return row


async def read_post(request: web.Request) -> web.Response:
    row = await visible_post(request)
    [view] = await _views(request, [row])
    return _json(200, view)


async def _hidden_authors(request: web.Request) -> set[str]:
    """Authors who blocked the (signed-in) reader: their posts do not exist for them."""
    viewer = await optional_principal(request)
    if viewer is None:
        return set()
    return await follows_model.blockers_of(infra(request).pool, viewer.user_id)


def _time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC (as PostgreSQL compares it): 9999-12-31T23:59:59-23:59 is past year 9999,
        # which datetime cannot hold (an OverflowError, once a 500).
        parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(
            f"{field} must be an RFC 3339 time", errors=[FieldError(field, "RFC 3339 with offset")]
        )
    return parsed


async def list_posts_route(request: web.Request) -> web.Response:
    i = infra(request)
    q = request.query
    unknown = set(q) - {"author", "before", "limit", "cursor", "after"}
    if unknown:
        raise ValidationError(
            f"unknown query parameter {sorted(unknown)[0]!r}",
            errors=[FieldError(name, "unknown parameter") for name in sorted(unknown)],
        )
    author = q.get("author")
    if author is not None and not is_uuid(author):
        raise ValidationError("author must be a user id", errors=[FieldError("author", "a UUID")])
    before_time = _time(q["before"], "before") if "before" in q else None
    limit = _LIMIT.read(request)
    scope = f"posts|{author or ''}|{q.get('before', '')}"
    before_seq = None
    if "cursor" in q:
        before_seq = decode_cursor(i.secret_key, scope, q["cursor"]).get("p")
        if not isinstance(before_seq, int) or before_seq < 1:
            raise BadCursor()
    await wait_for_position(request, PROJECTION)
    rows = await list_posts(
        i.pool, author_id=author, before_seq=before_seq, before_time=before_time, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    cursor = encode_cursor(i.secret_key, scope, {"p": page[-1].published_seq}) if more else None
    hidden = await _hidden_authors(request)
    views = await _views(request, [r for r in page if r.author_id not in hidden])
    return _json(200, PostPage(views, cursor))


async def author_stats_route(request: web.Request) -> web.Response:
    i = infra(request)
    author = request.match_info["author_id"]
    if not is_uuid(author):
        raise ValidationError("not a user id", errors=[FieldError("author_id", "a UUID")])
    await wait_for_position(request, AuthorStatsProjection.name)
    sink = RedisSink(AuthorStatsProjection(), i.redis, [], i.settings.redis_prefix)
    active = await sink.active_build()
    count = 0
    if active is not None:
        count = await author_stats.post_count(i.redis, sink.keyspace(active[0]), author)
    return _json(200, AuthorStats(author, count))


_POST_ID = Param("post_id", "path", "Post id", {"type": "string", "format": "uuid"})
_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=20)

ROUTES = [
    Route(
        "POST",
        "/v1/posts",
        publish_post,
        "Publish a post",
        "posts",
        request=PublishPostBody,
        response=CommandResult,
        status=201,
        raises=(EmptyPost, PostAlreadyExists),
        auth="bearer",
        idempotent_create=True,
        name="publish_post",
    ),
    Route(
        "PATCH",
        "/v1/posts/{post_id}",
        edit_post,
        "Edit a post (author or moderator)",
        "posts",
        request=EditPostBody,
        response=CommandResult,
        params=(_POST_ID,),
        raises=(PostNotFound, NotPostAuthor, EmptyPost),
        auth="bearer",
        name="edit_post",
    ),
    Route(
        "DELETE",
        "/v1/posts/{post_id}",
        delete_post,
        "Delete a post (author or moderator)",
        "posts",
        response=CommandResult,
        params=(_POST_ID,),
        raises=(PostNotFound, NotPostAuthor),
        auth="bearer",
        name="delete_post",
    ),
    Route(
        "GET",
        "/v1/posts/{post_id}",
        read_post,
        "Read a post",
        "posts",
        response=PostView,
        params=(_POST_ID,),
        raises=(PostNotFound,),
        auth="optional",
        after=True,
        name="read_post",
    ),
    Route(
        "GET",
        "/v1/posts",
        list_posts_route,
        "List posts, newest first",
        "posts",
        response=PostPage,
        raises=(BadCursor,),
        auth="optional",
        after=True,
        name="list_posts",
        params=(
            Param(
                "author", "query", "Only this author's posts", {"type": "string", "format": "uuid"}
            ),
            Param(
                "before",
                "query",
                "Only posts published before this time (RFC 3339)",
                {"type": "string", "format": "date-time"},
            ),
            _LIMIT.param,
            Param(
                "cursor",
                "query",
                "next_cursor of the previous page",
                {"type": "string", "minLength": 1},
            ),
        ),
    ),
    Route(
        "GET",
        "/v1/authors/{author_id}/stats",
        author_stats_route,
        "Post count of an author",
        "posts",
        response=AuthorStats,
        raises=(ValidationError,),
        after=True,
        name="author_stats",
        params=(Param("author_id", "path", "User id", {"type": "string", "format": "uuid"}),),
    ),
]
