"""Comments: add (a reply names its parent), read a post's thread (oldest first, nested),
edit and delete. Only whoever may see a post may comment on it or read its comments."""

from __future__ import annotations

from datetime import datetime

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from core.ids import is_uuid
from edge.auth import optional_principal, principal, send_as
from edge.authors import Author, authors, mentioned
from edge.bodies import read_json
from edge.context import command_headers, created_id, infra, path_id, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import IntQuery
from edge.routes.posts import CURSOR, PostGone, hidden_authors, visible_post
from edge.routing import Param, Route
from edge.wordfilter import file_report, screened
from handlers.moderation.errors import WordFilterBlocked
from handlers.posts.commands import AddComment, Body, DeleteComment, EditComment
from handlers.posts.errors import CommentNotFound, EmptyPost, NotCommentAuthor, PostNotFound
from handlers.reactions.commands import Kind
from projections import comments as model
from projections import follows as follows_model
from projections import reactions as reactions_model
from projections.reactions import Counts, ReactionsProjection

PROJECTION = "comments"
_encoder = msgspec.json.Encoder()


class CommentBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body
    reply_to: str | None = None


class EditCommentBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body


class CommentResult(msgspec.Struct):
    id: str
    position: str


class CommentView(msgspec.Struct):
    id: str
    post_id: str
    #: Empty for a deleted comment (a tombstone keeps its place in the thread).
    author_id: str
    body: str
    body_html: str
    reply_to: str | None
    #: Nesting as shown: 0 for a comment on the post, at most `QUARK_COMMENT_MAX_DEPTH`.
    depth: int
    added_at: datetime
    edited_at: datetime | None
    deleted: bool
    #: Handle, name, avatar and badge of the author (null for a tombstone).
    author: Author | None
    #: `visible`, or — for the author's own eyes only — `hidden` or `held` by moderation.
    moderation: str
    #: How many people reacted with each kind; a kind nobody used is absent.
    reactions: Counts
    #: The reader's own reactions (empty for an anonymous reader).
    my_reactions: list[Kind]


class CommentPage(msgspec.Struct):
    items: list[CommentView]
    next_cursor: str | None


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def _views(request: web.Request, rows: list[model.CommentRow]) -> list[CommentView]:
    """A page of comments with their authors and reactions: one query each per page."""
    pool = infra(request).pool
    live = [r for r in rows if r.deleted_at is None]
    writers = await authors(request, (r.author_id for r in live))
    ids = [r.id for r in live]
    await wait_for_position(request, ReactionsProjection.name)
    counts = await reactions_model.counts_for(pool, "comment", ids) if ids else {}
    viewer = await optional_principal(request)
    mine = (
        await reactions_model.mine_for(pool, "comment", ids, viewer.user_id)
        if viewer is not None and ids
        else {}
    )
    depth = infra(request).settings.comment_max_depth
    views = []
    for row in rows:
        deleted = row.deleted_at is not None
        views.append(
            CommentView(
                row.id,
                row.post_id,
                "" if deleted else row.author_id,
                row.body,
                row.body_html,
                row.reply_to,
                min(row.depth, depth),
                row.added_at,
                row.edited_at,
                deleted,
                None if deleted else writers.get(row.author_id),
                row.moderation,
                {} if deleted else counts.get(row.id, {}),  # type: ignore[arg-type]
                [] if deleted else reactions_model.ordered(mine.get(row.id, ())),  # type: ignore[arg-type]
            )
        )
    return views


async def visible_comment(request: web.Request) -> model.CommentRow:
    """The comment of the path's `comment_id` if the reader may see it: its post is visible
    to them, it is live, shown (or theirs), and its author has not blocked them; anything
    else does not exist for them (404), like a post."""
    comment_id = path_id(request, "comment_id", CommentNotFound)
    await wait_for_position(request, PROJECTION)
    row = await model.get_comment(infra(request).pool, comment_id)
    viewer = await optional_principal(request)
    who = viewer.user_id if viewer else ""
    if (
        row is None
        or row.deleted_at is not None
        or (row.moderation != "visible" and row.author_id != who)
        or row.author_id in await hidden_authors(request)
    ):
        raise CommentNotFound()
    try:
        await visible_post(request, row.post_id)
    except (PostNotFound, PostGone):
        raise CommentNotFound() from None
    return row


async def add_comment(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, CommentBody, max_bytes=i.settings.max_body_bytes)
    post = await visible_post(request)
    if body.reply_to is not None:
        await wait_for_position(request, PROJECTION)
        parent = await model.get_comment(i.pool, body.reply_to) if is_uuid(body.reply_to) else None
        if parent is None or parent.post_id != post.id:
            raise ValidationError(
                "no such comment under this post",
                errors=[FieldError("reply_to", "a comment of this post")],
            )
    verdict = await screened(request, "comments", {"body": body.body})
    text = verdict.texts["body"] or body.body
    comment_id = created_id(request, "comment")
    reply = await send_as(
        request,
        AddComment(
            comment_id=comment_id,
            post_id=post.id,
            post_author_id=post.author_id,
            body=text,
            reply_to=body.reply_to,
            mentions=await mentioned(request, text),
            held=verdict.held,
        ),
        who,
    )
    await file_report(
        request,
        verdict,
        reply,
        target_type="comment",
        target_id=comment_id,
        author_id=who.user_id,
        body=text,
    )
    headers = {**command_headers(reply), "Location": f"/v1/comments/{comment_id}"}
    return _json(201, CommentResult(comment_id, reply.position or ""), headers)


async def list_comments(request: web.Request) -> web.Response:
    i = infra(request)
    limit = _LIMIT.read(request)  # a malformed query is 422 before anything is looked up
    post = await visible_post(request)
    viewer = await optional_principal(request)
    after = None
    scope = f"comments|{post.id}"
    if "cursor" in request.query:
        after = decode_cursor(i.secret_key, scope, request.query["cursor"]).get("c")
        if not isinstance(after, list) or not all(isinstance(n, int) for n in after):
            raise BadCursor()
    await wait_for_position(request, PROJECTION)
    # People the reader blocked, or who blocked them, are not heard in the thread.
    unseen = await follows_model.block_partners(i.pool, viewer.user_id) if viewer else set()
    rows = await model.thread(
        i.pool,
        post.id,
        after=after,
        limit=limit + 1,
        viewer=viewer.user_id if viewer else None,
        unseen_authors=unseen,
    )
    page, more = rows[:limit], len(rows) > limit
    cursor = encode_cursor(i.secret_key, scope, {"c": page[-1].path}) if more else None
    return _json(200, CommentPage(await _views(request, page), cursor))


async def edit_comment(request: web.Request) -> web.Response:
    who = await principal(request)
    comment_id = path_id(request, "comment_id", CommentNotFound)
    body = await read_json(
        request, EditCommentBody, max_bytes=infra(request).settings.max_body_bytes
    )
    verdict = await screened(request, "comments", {"body": body.body})
    text = verdict.texts["body"] or body.body
    reply = await send_as(
        request,
        EditComment(
            comment_id=comment_id,
            body=text,
            mentions=await mentioned(request, text),
            held=verdict.held,
        ),
        who,
    )
    # Only its author edits a comment: the report names them.
    await file_report(
        request,
        verdict,
        reply,
        target_type="comment",
        target_id=comment_id,
        author_id=who.user_id,
        body=text,
    )
    return _json(200, CommentResult(comment_id, reply.position or ""), command_headers(reply))


async def delete_comment(request: web.Request) -> web.Response:
    who = await principal(request)
    comment_id = path_id(request, "comment_id", CommentNotFound)
    reply = await send_as(request, DeleteComment(comment_id=comment_id), who)
    return _json(200, CommentResult(comment_id, reply.position or ""), command_headers(reply))


_POST_ID = Param("post_id", "path", "Post id", {"type": "string", "format": "uuid"})
_COMMENT_ID = Param("comment_id", "path", "Comment id", {"type": "string", "format": "uuid"})
_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=50)

ROUTES = [
    Route(
        "POST",
        "/v1/posts/{post_id}/comments",
        add_comment,
        "Comment on a post (or reply to one of its comments)",
        "comments",
        request=CommentBody,
        response=CommentResult,
        status=201,
        params=(_POST_ID,),
        raises=(PostNotFound, PostGone, EmptyPost, WordFilterBlocked),
        auth="bearer",
        after=True,
        idempotent_create=True,
        name="add_comment",
    ),
    Route(
        "GET",
        "/v1/posts/{post_id}/comments",
        list_comments,
        "A post's comments, oldest first, replies nested under their parent",
        "comments",
        response=CommentPage,
        params=(
            _POST_ID,
            _LIMIT.param,
            CURSOR,
        ),
        raises=(PostNotFound, PostGone, BadCursor),
        auth="optional",
        after=True,
        name="list_comments",
    ),
    Route(
        "PATCH",
        "/v1/comments/{comment_id}",
        edit_comment,
        "Edit my comment",
        "comments",
        request=EditCommentBody,
        response=CommentResult,
        params=(_COMMENT_ID,),
        raises=(CommentNotFound, NotCommentAuthor, EmptyPost, WordFilterBlocked),
        auth="bearer",
        # The word filter's rules as of the writes the request names.
        after=True,
        name="edit_comment",
    ),
    Route(
        "DELETE",
        "/v1/comments/{comment_id}",
        delete_comment,
        "Delete a comment (its author, the post's author or a moderator)",
        "comments",
        response=CommentResult,
        params=(_COMMENT_ID,),
        raises=(CommentNotFound, NotCommentAuthor),
        auth="bearer",
        name="delete_comment",
    ),
]
