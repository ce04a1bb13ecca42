"""Hashtags: the posts of a tag, and the tags trending now.

A tag is counted only from public, visible, live posts (the posts read model's `tags` counts
and trending both), so a followers-only or hidden post never makes its tag known.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from edge.context import infra, wait_for_position
from edge.cursors import BadCursor
from edge.params import IntQuery
from edge.routes.posts import CURSOR, PAGE_LIMIT, PROJECTION, PostPage, post_page
from edge.routing import Param, Route
from handlers.posts.markdown import TAG_MAX, normalise_tag
from projections.post_search import trending_tags

#: Trending looks at the posts of the last day, by publishing time.
TRENDING_WINDOW = timedelta(hours=24)
TRENDING_LIMIT = IntQuery("limit", "How many tags", minimum=1, maximum=50, default=10)
_encoder = msgspec.json.Encoder()


class TrendingTagView(msgspec.Struct):
    tag: str
    #: People who used the tag in the window: what ranks it (one person repeating a tag
    #: counts once).
    authors: int
    #: Posts with the tag in the window.
    posts: int


class TrendingTags(msgspec.Struct):
    #: Most authors first, then most posts, then by name.
    items: list[TrendingTagView]


def _unknown_params(request: web.Request, allowed: set[str]) -> None:
    unknown = set(request.query) - allowed
    if unknown:
        raise ValidationError(
            f"unknown query parameter {sorted(unknown)[0]!r}",
            errors=[FieldError(name, "unknown parameter") for name in sorted(unknown)],
        )


async def tag_posts_route(request: web.Request) -> web.Response:
    """Posts with a hashtag, newest first: `#Привет`, `#привет` and `#ПРИВЕТ` are one tag."""
    tag = normalise_tag(request.match_info["tag"])
    if not tag or len(tag) > TAG_MAX:
        raise ValidationError("not a tag", errors=[FieldError("tag", f"1-{TAG_MAX} characters")])
    _unknown_params(request, {"limit", "cursor", "after"})
    return await post_page(request, f"tag|{tag}", tag=tag)


async def trending_route(request: web.Request) -> web.Response:
    _unknown_params(request, {"limit", "after"})
    limit = TRENDING_LIMIT.read(request)
    await wait_for_position(request, PROJECTION)
    rows = await trending_tags(infra(request).pool, datetime.now(UTC) - TRENDING_WINDOW, limit)
    body = TrendingTags([TrendingTagView(r.tag, r.authors, r.posts) for r in rows])
    return web.Response(body=_encoder.encode(body), content_type="application/json")


ROUTES = [
    Route(
        "GET",
        "/v1/tags/trending",
        trending_route,
        "Tags of the last 24 hours, by how many people used them",
        "posts",
        response=TrendingTags,
        auth="none",
        after=True,
        name="trending_tags",
        params=(TRENDING_LIMIT.param,),
    ),
    Route(
        "GET",
        "/v1/tags/{tag}/posts",
        tag_posts_route,
        "Posts with a hashtag, newest first",
        "posts",
        response=PostPage,
        raises=(BadCursor,),
        auth="optional",
        after=True,
        name="tag_posts",
        params=(
            Param("tag", "path", "A hashtag, without #", {"type": "string", "minLength": 1}),
            PAGE_LIMIT.param,
            CURSOR,
        ),
    ),
]
