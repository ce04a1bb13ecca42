"""Posts: publish, edit, delete, read one, list (newest first, cursor pagination)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import msgspec
from aiohttp import web

from core.errors import FieldError, QuarkError, ValidationError
from core.ids import is_uuid
from core.projection_redis import RedisSink
from core.ratelimit import Rule
from edge.auth import optional_principal, principal, send_as
from edge.authors import Author, authors, mentioned
from edge.bodies import read_json
from edge.context import (
    command_headers,
    created_id,
    db,
    infra,
    limit,
    path_id,
    wait_for_position,
)
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import IntQuery
from edge.perks import perks_of
from edge.routes.media import MediaView, media_views
from edge.routing import Param, Route
from edge.wordfilter import file_report, screened
from handlers.media.commands import AttachMedia
from handlers.media.errors import MediaNotFound, MediaNotReady
from handlers.moderation.errors import WordFilterBlocked
from handlers.posts.commands import (
    Body,
    CategorySlug,
    DeletePost,
    EditPost,
    MediaIds,
    PublishPost,
    Title,
    Visibility,
)
from handlers.posts.errors import EmptyPost, NotPostAuthor, PostAlreadyExists, PostNotFound
from handlers.reactions.commands import Kind
from projections import author_stats
from projections import categories as categories_model
from projections import comments as comments_model
from projections import follows as follows_model
from projections import reactions as reactions_model
from projections.author_stats import AuthorStatsProjection
from projections.comments import CommentsProjection
from projections.posts import PostRow, body_html, can_see, get_post, history, list_posts
from projections.profiles import ProfilesProjection
from projections.reactions import Counts, ReactionsProjection

PROJECTION = "posts"
_encoder = msgspec.json.Encoder()


class PublishPostBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body
    title: Title | None = None
    visibility: Visibility = "public"
    category: CategorySlug | None = None
    #: Up to 10 of my own ready media, in the order shown.
    media_ids: MediaIds = []


class EditPostBody(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay as they are; `title: null` removes the title."""

    #: An edit must change something (checked in the route; the schema says so too).
    __openapi_extra__: ClassVar[dict[str, object]] = {"minProperties": 1}
    title: Title | msgspec.UnsetType | None = msgspec.UNSET
    body: Body | msgspec.UnsetType = msgspec.UNSET
    visibility: Visibility | msgspec.UnsetType = msgspec.UNSET


class PreviewBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body


class PostPreview(msgspec.Struct):
    #: The body as a published post would show it: rendered and sanitised by the very
    #: function the posts read model uses, mentions linked only for handles that exist.
    body_html: str


class CommandResult(msgspec.Struct):
    id: str
    position: str


class PostView(msgspec.Struct):
    id: str
    author_id: str
    author: Author | None
    title: str | None
    #: Markdown, as written.
    body: str
    #: The body rendered and sanitised (no raw HTML, safe links, mentions and tags linked).
    body_html: str
    published_at: datetime
    edited_at: datetime | None
    visibility: str
    category: str | None
    tags: list[str]
    #: The attachments in order, with their variants (signed links when the post is not
    #: public).
    media: list[MediaView]
    #: `visible`, or — for the author's own eyes only — `hidden` or `held` by moderation.
    moderation: str

    #: How many people reacted with each kind; a kind nobody used is absent.
    reactions: Counts
    #: The reader's own reactions (empty for an anonymous reader).
    my_reactions: list[Kind]
    #: Live comments under the post.
    comments: int


class PostVersionView(msgspec.Struct):
    version: int
    title: str | None
    body: str
    body_html: str
    at: datetime
    by: str


class PostHistory(msgspec.Struct):
    id: str
    versions: list[PostVersionView]


class PostGone(QuarkError):
    code = "post-deleted"
    status = 410
    title = "This post was deleted"


class PostPage(msgspec.Struct):
    items: list[PostView]
    next_cursor: str | None


class AuthorStats(msgspec.Struct):
    author_id: str
    posts: int


async def wait_for_views(request: web.Request) -> None:
    """What `post_views` reads besides the posts: a page waits for these before it holds a
    connection (`page_reads`)."""
    await wait_for_position(request, ReactionsProjection.name)
    await wait_for_position(request, CommentsProjection.name)


async def post_views(request: web.Request, rows: list[PostRow]) -> list[PostView]:
    """The views of a page of posts: authors, attachments and avatars, reaction counts, the
    reader's own reactions and comment counts each come in one query for the whole page,
    whatever its size (no query per post)."""
    if not rows:
        return []
    await wait_for_views(request)
    pool = db(request)
    ids = [r.id for r in rows]
    counts = await reactions_model.counts_for(pool, "post", ids)
    viewer = await optional_principal(request)
    mine = (
        await reactions_model.mine_for(pool, "post", ids, viewer.user_id)
        if viewer is not None
        else {}
    )
    writers = await authors(request, (r.author_id for r in rows))
    media = await media_views(request, [m for row in rows for m in row.media_ids])
    comment_counts = await comments_model.counts_for(pool, ids)
    return [
        PostView(
            row.id,
            row.author_id,
            writers.get(row.author_id),
            row.title,
            row.body,
            row.body_html,
            row.published_at,
            row.edited_at,
            row.visibility,
            row.category,
            row.tags,
            [media[m] for m in row.media_ids if m in media],
            row.moderation,
            counts[row.id],  # type: ignore[arg-type]
            reactions_model.ordered(mine.get(row.id, ())),  # type: ignore[arg-type]
            comment_counts.get(row.id, 0),
        )
        for row in rows
    ]


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def publish_post(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, PublishPostBody, max_bytes=i.settings.max_body_bytes)
    p = await perks_of(request, who.user_id)
    quota = max(1, int(int(p["posts_per_hour"]) * i.settings.perks_quota_scale))
    await limit(request, Rule("posts", quota, 3600), who.user_id)
    if len(set(body.media_ids)) != len(body.media_ids):
        raise ValidationError(
            "each media at most once", errors=[FieldError("media_ids", "duplicates")]
        )
    if body.category is not None and not await categories_model.exists(i.pool, body.category):
        raise ValidationError(
            "no such category", errors=[FieldError("category", "a slug of GET /v1/categories")]
        )
    # The word filter: refused (422), censored, held or flagged before anything is written.
    verdict = await screened(request, "posts", {"title": body.title, "body": body.body})
    title, text = verdict.texts["title"], verdict.texts["body"] or body.body
    post_id = created_id(request, "post")
    # The media context accepts only the author's own ready media; what a public post
    # shows, anyone may fetch, what a followers-only post shows stays behind signed links.
    for media_id in body.media_ids:
        if not is_uuid(media_id):
            raise ValidationError("not a media id", errors=[FieldError("media_ids", "media ids")])
        await send_as(
            request,
            AttachMedia(
                media_id=media_id, ref=f"post:{post_id}", public=body.visibility == "public"
            ),
            who,
            step=f"attach-{media_id}",
        )
    reply = await send_as(
        request,
        PublishPost(
            post_id=post_id,
            title=title,
            body=text,
            visibility=body.visibility,
            category=body.category,
            media_ids=body.media_ids,
            mentions=await mentioned(request, text),
            held=verdict.held,
        ),
        who,
    )
    await file_report(
        request,
        verdict,
        reply,
        target_type="post",
        target_id=post_id,
        author_id=who.user_id,
        title=title,
        body=text,
    )
    headers = {**command_headers(reply), "Location": f"/v1/posts/{post_id}"}
    return _json(201, CommandResult(post_id, reply.position or ""), headers)


async def preview_post(request: web.Request) -> web.Response:
    """A body's Markdown rendered as publishing it would render it; nothing is written.

    The composer's preview needs the server's renderer: a second Markdown renderer in the
    browser would show what the post will not look like (mentions, tags, unwrapped images,
    the sanitiser's allow-list), and the browser may insert only HTML the server cleaned."""
    await principal(request)
    body = await read_json(request, PreviewBody, max_bytes=infra(request).settings.max_body_bytes)
    # Which handles exist as of the writer's own latest writes (a handle just claimed).
    await wait_for_position(request, ProfilesProjection.name)
    return _json(200, PostPreview(body_html(body.body, await mentioned(request, body.body))))


async def edit_post(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    post_id = path_id(request, "post_id", PostNotFound)
    body = await read_json(request, EditPostBody, max_bytes=i.settings.max_body_bytes)
    given = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}
    if not given:
        raise ValidationError(
            "nothing to change", errors=[FieldError("$", "send title, body or visibility")]
        )
    verdict = await screened(
        request, "posts", {"title": given.get("title"), "body": given.get("body")}
    )
    given.update((k, v) for k, v in verdict.texts.items() if k in given)
    reply = await send_as(
        request,
        EditPost(
            post_id=post_id,
            title=given.get("title"),
            clear_title="title" in given and given["title"] is None,
            body=given.get("body"),
            visibility=given.get("visibility"),
            mentions=await mentioned(request, given["body"]) if "body" in given else None,
            held=verdict.held,
        ),
        who,
    )
    if verdict.reported:
        # The report names the post's author (a moderator may be the editor) and the post
        # as it is after the edit (the read model's text for what the edit left).
        row = await get_post(i.pool, post_id)
        await file_report(
            request,
            verdict,
            reply,
            target_type="post",
            target_id=post_id,
            author_id=row.author_id if row is not None else who.user_id,
            title=given.get("title", row.title if row else None),
            body=given.get("body") or (row.body if row else ""),
        )
    if "visibility" in given:
        # The attachments follow the post's audience: public with a public post, behind
        # signed links with a followers-only one.
        row = await get_post(i.pool, post_id)
        for media_id in row.media_ids if row is not None and row.author_id == who.user_id else []:
            await send_as(
                request,
                AttachMedia(
                    media_id=media_id,
                    ref=f"post:{post_id}",
                    public=given["visibility"] == "public",
                ),
                who,
                step=f"attach-{media_id}",
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


async def visible_post(request: web.Request, post_id: str | None = None) -> PostRow:
    """The post of the path's `post_id` if the reader may see it (read at the position the
    read must see): 404 when it does not exist for them — missing, not in its audience,
    hidden by moderation, or its author blocked them, so a blocked person learns nothing
    more than of a post that never was — and 410 when it was deleted."""
    if post_id is None:
        post_id = path_id(request, "post_id", PostNotFound)
    viewer = await optional_principal(request)
    await wait_for_position(request, PROJECTION)
    pool = infra(request).pool
    row = await get_post(pool, post_id)
    if row is None or row.author_id in await hidden_authors(request):
        raise PostNotFound()
    if row.deleted_at is not None:
        raise PostGone()
    if not await can_see(pool, row, viewer.user_id if viewer else None):
        raise PostNotFound()
    return row


async def read_post(request: web.Request) -> web.Response:
    row = await visible_post(request)
    return _json(200, (await post_views(request, [row]))[0])


async def post_history(request: web.Request) -> web.Response:
    """Every version of a post, oldest first; for whoever may see the post."""
    row = await visible_post(request)
    versions = await history(infra(request).pool, row.id)
    return _json(
        200, PostHistory(row.id, [PostVersionView(*msgspec.structs.astuple(v)) for v in versions])
    )


async def hidden_authors(request: web.Request) -> set[str]:
    """Authors who blocked the (signed-in) reader: their posts do not exist for them."""
    viewer = await optional_principal(request)
    if viewer is None:
        return set()
    return await follows_model.blockers_of(infra(request).pool, viewer.user_id)


def rfc3339_time(value: str, field: str) -> datetime:
    """A query's time, in UTC; 422 naming `field` for anything that is not one."""
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
    before_time = rfc3339_time(q["before"], "before") if "before" in q else None
    scope = f"posts|{author or ''}|{q.get('before', '')}"
    return await post_page(request, scope, author=author, before_time=before_time)


async def post_page(
    request: web.Request,
    scope: str,
    *,
    author: str | None = None,
    tag: str | None = None,
    category: str | None = None,
    before_time: datetime | None = None,
) -> web.Response:
    """A page of posts, newest first, as the reader may see them; `scope` binds the
    cursor to the listing it came from."""
    i = infra(request)
    q = request.query
    limit = PAGE_LIMIT.read(request)
    before_seq = None
    if "cursor" in q:
        before_seq = decode_cursor(i.secret_key, scope, q["cursor"]).get("p")
        if not isinstance(before_seq, int) or before_seq < 1:
            raise BadCursor()
    viewer = await optional_principal(request)
    await wait_for_position(request, PROJECTION)
    rows = await list_posts(
        i.pool,
        author_id=author,
        before_seq=before_seq,
        before_time=before_time,
        limit=limit + 1,
        viewer=viewer.user_id if viewer else None,
        tag=tag,
        category=category,
        hidden_authors=await hidden_authors(request),
    )
    page, more = rows[:limit], len(rows) > limit
    cursor = encode_cursor(i.secret_key, scope, {"p": page[-1].published_seq}) if more else None
    return _json(200, PostPage(await post_views(request, page), cursor))


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
PAGE_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=20)
#: The cursor of every paginated listing.
CURSOR = Param(
    "cursor", "query", "next_cursor of the previous page", {"type": "string", "minLength": 1}
)

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
        raises=(EmptyPost, PostAlreadyExists, MediaNotFound, MediaNotReady, WordFilterBlocked),
        auth="bearer",
        idempotent_create=True,
        limited=True,
        # The quota is the person's as of the writes the request names (a VIP grant), and
        # so are the word filter's rules (an admin's new rule).
        after=True,
        name="publish_post",
    ),
    Route(
        "POST",
        "/v1/posts/preview",
        preview_post,
        "Render a post's body as publishing would, writing nothing",
        "posts",
        request=PreviewBody,
        response=PostPreview,
        auth="bearer",
        after=True,
        writes=False,
        name="preview_post",
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
        raises=(PostNotFound, NotPostAuthor, EmptyPost, WordFilterBlocked),
        auth="bearer",
        # The word filter's rules as of the writes the request names.
        after=True,
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
        raises=(PostNotFound, PostGone),
        auth="optional",
        after=True,
        name="read_post",
    ),
    Route(
        "GET",
        "/v1/posts/{post_id}/history",
        post_history,
        "Every version of a post, oldest first (for the post's audience)",
        "posts",
        response=PostHistory,
        params=(_POST_ID,),
        raises=(PostNotFound, PostGone),
        auth="optional",
        after=True,
        name="post_history",
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
            PAGE_LIMIT.param,
            CURSOR,
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
