"""Reactions on posts and comments: add or remove one of the reader's own, read counts.

Only a post or comment its reader can see can be reacted to (`visible_post`,
`visible_comment`): one that does not exist, or whose author blocked the reader, answers
404 and sends nothing.

An unknown kind is 422 `quark:unknown-reaction-kind`, not 404: the set of kinds is fixed
and documented (an enum in the path parameter's schema), so a kind outside it is a client's
mistake in what it sent, and the problem's field error tells it which kinds there are. It
is checked before anything is looked up.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from core.errors import FieldError
from edge.auth import optional_principal, principal, send_as
from edge.context import command_headers, infra, wait_for_position
from edge.routes.comments import visible_comment
from edge.routes.posts import PostGone, visible_post
from edge.routing import Param, Route
from handlers.posts.errors import CommentNotFound, PostNotFound
from handlers.reactions.commands import KINDS, Kind, React, Unreact
from handlers.reactions.errors import UnknownReactionKind
from projections import reactions as reactions_model
from projections.reactions import Counts, ReactionsProjection

_encoder = msgspec.json.Encoder()


class ReactionResult(msgspec.Struct):
    post_id: str
    kind: Kind
    position: str


class CommentReactionResult(msgspec.Struct):
    comment_id: str
    kind: Kind
    position: str


class Reactions(msgspec.Struct):
    #: How many people reacted with each kind; a kind nobody used is absent.
    counts: Counts
    #: The reader's own kinds (empty for an anonymous reader).
    mine: list[Kind]


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


def _kind(request: web.Request) -> Kind:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise UnknownReactionKind(
            f"{kind!r} is not a reaction kind",
            errors=[FieldError("kind", f"one of {', '.join(KINDS)}")],
        )
    return kind  # type: ignore[return-value]


async def _change(request: web.Request, command_type: type[React] | type[Unreact]) -> web.Response:
    who = await principal(request)
    kind = _kind(request)
    post = await visible_post(request)
    reply = await send_as(
        request, command_type(target_type="post", target_id=post.id, kind=kind), who
    )
    position = reply.position or ""
    return _json(200, ReactionResult(post.id, kind, position), command_headers(reply))


async def _change_comment(
    request: web.Request, command_type: type[React] | type[Unreact]
) -> web.Response:
    who = await principal(request)
    kind = _kind(request)
    comment = await visible_comment(request)
    reply = await send_as(
        request, command_type(target_type="comment", target_id=comment.id, kind=kind), who
    )
    position = reply.position or ""
    return _json(200, CommentReactionResult(comment.id, kind, position), command_headers(reply))


async def react(request: web.Request) -> web.Response:
    return await _change(request, React)


async def unreact(request: web.Request) -> web.Response:
    return await _change(request, Unreact)


async def react_to_comment(request: web.Request) -> web.Response:
    return await _change_comment(request, React)


async def unreact_to_comment(request: web.Request) -> web.Response:
    return await _change_comment(request, Unreact)


async def _reactions(request: web.Request, target_type: str, target_id: str) -> web.Response:
    await wait_for_position(request, ReactionsProjection.name)
    pool = infra(request).pool
    counts = await reactions_model.counts_for(pool, target_type, [target_id])
    viewer = await optional_principal(request)
    mine = (
        (await reactions_model.mine_for(pool, target_type, [target_id], viewer.user_id))[target_id]
        if viewer is not None
        else set()
    )
    return _json(200, Reactions(counts[target_id], reactions_model.ordered(mine)))  # type: ignore[arg-type]


async def read_reactions(request: web.Request) -> web.Response:
    post = await visible_post(request)
    return await _reactions(request, "post", post.id)


async def read_comment_reactions(request: web.Request) -> web.Response:
    comment = await visible_comment(request)
    return await _reactions(request, "comment", comment.id)


_POST_ID = Param("post_id", "path", "Post id", {"type": "string", "format": "uuid"})
_KIND = Param("kind", "path", "Reaction kind", {"type": "string", "enum": list(KINDS)})
_COMMENT_ID = Param("comment_id", "path", "Comment id", {"type": "string", "format": "uuid"})

ROUTES = [
    Route(
        "PUT",
        "/v1/posts/{post_id}/reactions/{kind}",
        react,
        "React to a post (again: nothing changes)",
        "reactions",
        response=ReactionResult,
        params=(_POST_ID, _KIND),
        raises=(PostNotFound, PostGone, UnknownReactionKind),
        auth="bearer",
        after=True,
        name="react_to_post",
    ),
    Route(
        "DELETE",
        "/v1/posts/{post_id}/reactions/{kind}",
        unreact,
        "Take one's reaction back (none there: nothing changes)",
        "reactions",
        response=ReactionResult,
        params=(_POST_ID, _KIND),
        raises=(PostNotFound, PostGone, UnknownReactionKind),
        auth="bearer",
        after=True,
        name="unreact_to_post",
    ),
    Route(
        "GET",
        "/v1/posts/{post_id}/reactions",
        read_reactions,
        "Reaction counts of a post, and the reader's own",
        "reactions",
        response=Reactions,
        params=(_POST_ID,),
        raises=(PostNotFound, PostGone),
        auth="optional",
        after=True,
        name="read_post_reactions",
    ),
    Route(
        "PUT",
        "/v1/comments/{comment_id}/reactions/{kind}",
        react_to_comment,
        "React to a comment (again: nothing changes)",
        "reactions",
        response=CommentReactionResult,
        params=(_COMMENT_ID, _KIND),
        raises=(CommentNotFound, UnknownReactionKind),
        auth="bearer",
        after=True,
        name="react_to_comment",
    ),
    Route(
        "DELETE",
        "/v1/comments/{comment_id}/reactions/{kind}",
        unreact_to_comment,
        "Take one's reaction to a comment back (none there: nothing changes)",
        "reactions",
        response=CommentReactionResult,
        params=(_COMMENT_ID, _KIND),
        raises=(CommentNotFound, UnknownReactionKind),
        auth="bearer",
        after=True,
        name="unreact_to_comment",
    ),
    Route(
        "GET",
        "/v1/comments/{comment_id}/reactions",
        read_comment_reactions,
        "Reaction counts of a comment, and the reader's own",
        "reactions",
        response=Reactions,
        params=(_COMMENT_ID,),
        raises=(CommentNotFound,),
        auth="optional",
        after=True,
        name="read_comment_reactions",
    ),
]
