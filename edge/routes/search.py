"""Search: `GET /v1/search?q=&type=posts|users|tags` (docs/architecture.md, "Search").

Posts are found by PostgreSQL full-text search over the posts read model (Russian and
English stemming, the last word as a prefix), ranked and paged by a cursor holding the last
hit's rank; people by handle or name prefix, tags by prefix, one page each (the best
matches: a search for a person or a tag is refined by typing, not by paging).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from edge.auth import optional_principal
from edge.context import infra, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import query_text
from edge.routes.posts import CURSOR, PAGE_LIMIT, PostView, post_views
from edge.routes.profiles import PublicProfile, public_profile
from edge.routing import Param, Route
from handlers.posts.markdown import TAG_MAX, normalise_tag
from projections import follows as follows_model
from projections import post_search
from projections import posts as posts_model
from projections import profiles as profiles_model
from projections.post_search import search_terms

#: The longest query (characters, after trimming); only the first `SEARCH_WORDS` words count.
Q_MAX = 200
SearchType = Literal["posts", "users", "tags"]
_TYPES: tuple[str, ...] = ("posts", "users", "tags")
_encoder = msgspec.json.Encoder()


class PostHit(msgspec.Struct, tag_field="type", tag="post"):
    post: PostView
    #: HTML: an excerpt of the body around the matches, the text escaped, each match in
    #: `<mark>` (the beginning of the body when the matches are past the excerpt).
    snippet: str
    #: HTML: the whole title, escaped, its matches in `<mark>`; null without a title.
    title_snippet: str | None


class UserHit(msgspec.Struct, tag_field="type", tag="user"):
    user: PublicProfile


class TagHit(msgspec.Struct, tag_field="type", tag="tag"):
    tag: str
    #: Public posts with the tag.
    posts: int


class SearchPage(msgspec.Struct):
    #: All of the kind asked for (`type`): posts, users or tags.
    items: list[PostHit | UserHit | TagHit]
    #: Posts only: the next page's cursor (people and tags come in one page).
    next_cursor: str | None


def _json(value: object) -> web.Response:
    return web.Response(status=200, body=_encoder.encode(value), content_type="application/json")


def _query(request: web.Request) -> str:
    q = query_text(request, "q", max_length=Q_MAX)
    if not q:
        raise ValidationError(
            "q must be 1-200 characters", errors=[FieldError("q", f"1-{Q_MAX} characters")]
        )
    return q


async def search_route(request: web.Request) -> web.Response:
    unknown = set(request.query) - {"q", "type", "limit", "cursor", "after"}
    if unknown:
        raise ValidationError(
            f"unknown query parameter {sorted(unknown)[0]!r}",
            errors=[FieldError(name, "unknown parameter") for name in sorted(unknown)],
        )
    q = _query(request)
    kind = request.query.get("type", "posts")
    if kind not in _TYPES:
        raise ValidationError(
            "type must be posts, users or tags", errors=[FieldError("type", "posts|users|tags")]
        )
    limit = PAGE_LIMIT.read(request)
    if kind == "posts":
        return await _posts(request, q, limit)
    if "cursor" in request.query:
        raise BadCursor()  # people and tags have no second page
    if kind == "users":
        return await _users(request, q, limit)
    return await _tags(request, q, limit)


async def _posts(request: web.Request, q: str, limit: int) -> web.Response:
    i = infra(request)
    terms = search_terms(q)
    # The cursor belongs to these terms (what was typed, as the search reads it).
    scope = f"search|{'|'.join(terms.words)}|{terms.prefix}"
    after = newest = None
    if "cursor" in request.query:
        c = decode_cursor(i.secret_key, scope, request.query["cursor"])
        after = (c.get("t"), c.get("p"), c.get("r"), c.get("n"))
        newest = c.get("m")
        if not (
            isinstance(newest, int)
            and not isinstance(newest, bool)
            and isinstance(after[0], bool)
            and isinstance(after[1], bool)
            and isinstance(after[2], float | int)
            and not isinstance(after[2], bool)
            and isinstance(after[3], int)
            and not isinstance(after[3], bool)
        ):
            raise BadCursor()
    viewer = await optional_principal(request)
    await wait_for_position(request, posts_model.PostsProjection.name)
    if not terms.words:
        return _json(SearchPage([], None))  # nothing but punctuation: nothing to find
    hits = await post_search.search_posts(
        i.pool,
        terms,
        viewer=viewer.user_id if viewer else None,
        after=after,  # type: ignore[arg-type]
        newest=newest,
        limit=limit + 1,
    )
    page, more = hits[:limit], len(hits) > limit
    cursor = None
    if more:
        last = page[-1]
        cursor = encode_cursor(
            i.secret_key,
            scope,
            {
                "t": last.title_hit,
                "p": last.phrase_hit,
                "r": last.rank,
                "n": last.post.published_seq,
                "m": last.newest,
            },
        )
    views = await post_views(request, [h.post for h in page])
    items: list[PostHit | UserHit | TagHit] = [
        PostHit(view, hit.snippet, hit.title_snippet) for view, hit in zip(views, page, strict=True)
    ]
    return _json(SearchPage(items, cursor))


async def _users(request: web.Request, q: str, limit: int) -> web.Response:
    pool = infra(request).pool
    viewer = await optional_principal(request)
    exclude = await follows_model.block_partners(pool, viewer.user_id) if viewer else set()
    await wait_for_position(request, profiles_model.ProfilesProjection.name)
    rows = await profiles_model.search(pool, q, limit, exclude)
    return _json(SearchPage([UserHit(public_profile(r)) for r in rows], None))


async def _tags(request: web.Request, q: str, limit: int) -> web.Response:
    prefix = normalise_tag(q.removeprefix("#"))[:TAG_MAX]
    await wait_for_position(request, posts_model.PostsProjection.name)
    if not prefix:
        return _json(SearchPage([], None))
    rows = await post_search.search_tags(infra(request).pool, prefix, limit)
    return _json(SearchPage([TagHit(r.tag, r.posts) for r in rows], None))


ROUTES = [
    Route(
        "GET",
        "/v1/search",
        search_route,
        "Search posts (full text), people or tags",
        "search",
        response=SearchPage,
        raises=(BadCursor,),
        auth="optional",
        after=True,
        name="search",
        params=(
            Param(
                "q",
                "query",
                "What to find: words in Russian or English, the last one may be unfinished",
                {"type": "string", "minLength": 1, "maxLength": Q_MAX},
                required=True,
            ),
            Param(
                "type",
                "query",
                "What kind of thing to find (default posts)",
                {"type": "string", "enum": list(_TYPES), "default": "posts"},
            ),
            PAGE_LIMIT.param,
            CURSOR,
        ),
    ),
]
