"""Search over the `posts` read model: posts by words (Russian and English stemming in one
document), tags by prefix, trending tags. The tables are the posts projection's
(`projections/posts.py`); the queries live here so that module stays about applying events
and listing, this one about ranking and snippets (docs/architecture.md, "Search")."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from projections.posts import _COLUMNS, _COUNTED_P, _VISIBLE, NOT_LIMITED, PostRow

#: At most this many words of a query count (the rest is ignored): each word is a term of
#: the tsquery, and a query is for finding, not for pasting a paragraph into.
SEARCH_WORDS = 8
#: A word of a query: letters, digits and `_` only, so nothing a user types is ever read as
#: tsquery syntax (`&`, `|`, `!`, `<->`, `:*`, quotes and backslashes are separators).
_WORD = re.compile(r"\w+")
#: A shorter last word is matched whole, not as a prefix: `a:*` would match most posts.
PREFIX_MIN = 2
#: How many of the newest matches are ranked (docs/architecture.md, "Search"): the cost of a
#: query is bounded whatever the word, and so is how deep one can page (50 pages of 20).
SEARCH_CANDIDATES = 200
#: How many of the newest posts are walked in order for matches before the older ones are
#: looked up in the GIN index: a frequent word finds its candidates here in a few ms, a rare
#: one is then cheap to fetch through the index (docs/architecture.md, "Search").
RECENT_SCAN = 20_000
#: No position is larger (PostgreSQL's bigint): "no bound yet".
INT64_MAX = 2**63 - 1
#: Snippets are cut from the first this many characters of a post's text: `ts_headline`
#: parses all it is given, and a 20,000-character body costs too much per result.
SNIPPET_SOURCE = 3000
#: Highlight marks and stand-ins for `<` `>` while PostgreSQL works on the text: private-use
#: characters, taken out of the text first, so no user text can fake a mark. `ts_headline`
#: drops anything that looks like an HTML tag and escapes nothing; the text is escaped here.
_OPEN, _CLOSE, _LT, _GT = "\ue000", "\ue001", "\ue002", "\ue003"
_HEADLINE = (
    f"StartSel={_OPEN}, StopSel={_CLOSE}, MaxFragments=2, MaxWords=24, MinWords=8,"
    ' FragmentDelimiter=" … "'
)
_HIGHLIGHT_ALL = f"StartSel={_OPEN}, StopSel={_CLOSE}, HighlightAll=true"
#: Rank weights {D, C, B, A}: the stemmed title (A) and body (B) rank; the words as written
#: (C, D: there for the prefix being typed) barely do, or a word written in its base form
#: would count twice.
_RANK_WEIGHTS = [0.01, 0.02, 0.4, 1.0]


class SearchTerms(msgspec.Struct, frozen=True):
    """A query split into words: the complete ones, and the last one being typed."""

    words: list[str]
    #: Whether the last word is matched as a prefix (search as you type).
    prefix: bool

    @property
    def complete(self) -> str:
        """The words matched whole (stemmed), as text for `plainto_tsquery`."""
        return " ".join(self.words if not self.prefix else self.words[:-1])

    @property
    def typed(self) -> str:
        """The last word as a tsquery prefix (`'runn':*`), or '' when there is none. Words
        are `\\w+`, so quoting them is all the escaping they need."""
        return f"'{self.words[-1]}':*" if self.prefix else ""


def search_terms(query: str) -> SearchTerms:
    """The terms of a query as typed: words only, at most `SEARCH_WORDS`; the last one a
    prefix when it has `PREFIX_MIN` characters or more."""
    words = [w.casefold() for w in _WORD.findall(query)][:SEARCH_WORDS]
    return SearchTerms(words, bool(words) and len(words[-1]) >= PREFIX_MIN)


class PostHitRow(msgspec.Struct, frozen=True):
    post: PostRow
    title_hit: bool
    phrase_hit: bool
    rank: float
    #: HTML: the text escaped, the matches in `<mark>`.
    snippet: str
    title_snippet: str | None
    #: The newest candidate's position: later pages rank the same candidates.
    newest: int


#: The tsquery of the stemmed terms ($1 complete words, $2 the prefix being typed), and the
#: same with the prefix also matched against the words as written (`simple`).
_STEMMED = """(plainto_tsquery('russian', $1)
    && CASE WHEN $2 = '' THEN ''::tsquery ELSE to_tsquery('russian', $2) END)"""
_QUERY = """(plainto_tsquery('russian', $1)
    && CASE WHEN $2 = '' THEN ''::tsquery
            ELSE (to_tsquery('russian', $2) || to_tsquery('simple', $2)) END)"""
#: The text given to `ts_headline`: marks and stand-ins taken out, `<` `>` stood in for.
_SOURCE = "translate({text}, E'<>\\uE000\\uE001\\uE002\\uE003', E'\\uE002\\uE003')"


def _headline(text: str, options: str) -> str:
    """`ts_headline` of the stemmed terms, then — while a word is being typed — the prefix
    over the words as written (marks may nest; `marked` flattens them)."""
    first = f"ts_headline('russian', {_SOURCE.format(text=text)}, {_STEMMED}, {options})"
    return f"""CASE WHEN $2 = '' THEN {first}
        ELSE ts_headline('simple', {first}, to_tsquery('simple', $2), $8) END"""


#: What a reader may find ($3 is the reader, '' for nobody): live, in their audience, not
#: hidden from them, not by a limited author they do not follow, and no block between them
#: and the author either way.
_ALLOWED = f"""p.deleted_at IS NULL
    AND {_VISIBLE.format(viewer="$3")}
    AND {NOT_LIMITED.format(viewer="$3")}
    AND NOT EXISTS (
        SELECT 1 FROM follows.blocks b
        WHERE (b.blocker = p.author_id::uuid AND b.blocked = nullif($3, '')::uuid)
           OR (b.blocked = p.author_id::uuid AND b.blocker = nullif($3, '')::uuid))"""


def marked(headline: str) -> str:
    """A headline made HTML: every piece of text escaped, each match in one `<mark>`."""
    out: list[str] = []
    depth = 0
    for piece in re.split(f"([{_OPEN}{_CLOSE}])", headline):
        if piece == _OPEN:
            depth += 1
            if depth == 1:
                out.append("<mark>")
        elif piece == _CLOSE:
            if depth == 1:
                out.append("</mark>")
            depth = max(0, depth - 1)
        else:
            out.append(html.escape(piece.replace(_LT, "<").replace(_GT, ">"), quote=False))
    if depth:
        out.append("</mark>")
    return "".join(out)


def search_posts_query(
    terms: SearchTerms,
    *,
    viewer: str | None,
    after: tuple[bool, bool, float, int] | None,
    newest: int | None = None,
    limit: int,
) -> tuple[str, list[Any]]:
    """The statement of `search_posts` and its arguments (the bench EXPLAINs it)."""
    phrase = " ".join(terms.words) if len(terms.words) > 1 else ""
    return (
        f"""
        WITH bound AS MATERIALIZED (
            -- Where the newest RECENT_SCAN live posts begin (below $12, the cursor's bound).
            SELECT coalesce(min(seq), 0) AS seq FROM (
                SELECT published_seq AS seq FROM posts.posts
                WHERE deleted_at IS NULL AND published_seq <= $12
                ORDER BY published_seq DESC LIMIT {RECENT_SCAN}) r
        ), recent AS MATERIALIZED (
            -- The newest matches, walking the newest posts down their index: bounded
            -- work for a frequent word, which the GIN index would hand over by the 100,000.
            SELECT {_COLUMNS}, p.body_text, p.search
            FROM posts.posts p
            WHERE p.published_seq > (SELECT seq FROM bound) AND p.published_seq <= $12
              AND p.search @@ {_QUERY} AND {_ALLOWED}
            ORDER BY p.published_seq DESC
            LIMIT {SEARCH_CANDIDATES}
        )
        SELECT hit.*,
            CASE WHEN hit.title IS NULL THEN NULL
                 ELSE {_headline("hit.title", "$8")} END AS title_snippet,
            {_headline(f"left(hit.body_text, {SNIPPET_SOURCE})", "$7")} AS snippet
        FROM (
            SELECT c.*,
                ts_filter(c.search, '{{a,c}}') @@ {_QUERY} AS title_hit,
                ($4 <> '' AND c.search @@ phraseto_tsquery('russian', $4)) AS phrase_hit,
                ts_rank_cd($9::float4[], c.search, {_QUERY}, 1)::float8 AS rank,
                max(c.published_seq) OVER () AS newest
            FROM (
                SELECT * FROM recent
                UNION ALL
                -- Only when the newest posts hold too few matches: the older matches,
                -- through the GIN index (`+ 0`: not in the order of an index).
                (SELECT {_COLUMNS}, p.body_text, p.search
                 FROM posts.posts p
                 WHERE (SELECT count(*) FROM recent) < {SEARCH_CANDIDATES}
                   AND p.search @@ {_QUERY} AND p.published_seq <= (SELECT seq FROM bound)
                   AND {_ALLOWED}
                 ORDER BY p.published_seq + 0 DESC
                 LIMIT {SEARCH_CANDIDATES})
                LIMIT {SEARCH_CANDIDATES}
            ) c
        ) hit
        WHERE $5::boolean IS NULL
           OR (hit.title_hit, hit.phrase_hit, hit.rank, hit.published_seq)
              < ($5::boolean, $6::boolean, $10::float8, $11::bigint)
        ORDER BY hit.title_hit DESC, hit.phrase_hit DESC, hit.rank DESC,
                 hit.published_seq DESC
        LIMIT $13
        """,
        [
            terms.complete,
            terms.typed,
            viewer or "",
            phrase,
            after[0] if after else None,
            after[1] if after else None,
            _HEADLINE,
            _HIGHLIGHT_ALL,
            _RANK_WEIGHTS,
            after[2] if after else None,
            after[3] if after else None,
            newest if newest is not None else INT64_MAX,
            limit,
        ],
    )


async def search_posts(
    conn: asyncpg.Connection | asyncpg.Pool,
    terms: SearchTerms,
    *,
    viewer: str | None,
    after: tuple[bool, bool, float, int] | None,
    newest: int | None = None,
    limit: int,
) -> list[PostHitRow]:
    """Posts matching `terms` that `viewer` may see (audience, moderation, blocks either
    way), best first: title hits, then the words as a phrase, then `ts_rank_cd`, then the
    newest. `after` is the last hit's (title_hit, phrase_hit, rank, published_seq): keyset
    pagination over the ranking, so a page costs the same wherever it is.

    Only the newest `SEARCH_CANDIDATES` matches are ranked (a word in 5% of a million
    posts would otherwise rank 50,000 rows per page); `newest` (the first page's `newest`,
    carried by the cursor) keeps later pages on the same candidates while posts arrive."""
    sql, args = search_posts_query(terms, viewer=viewer, after=after, newest=newest, limit=limit)
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as one:
            return await search_posts(
                one, terms, viewer=viewer, after=after, newest=newest, limit=limit
            )
    # A plan for these very terms: the generic plan of a cached statement estimates any
    # tsquery alike and ran four times slower. `SET LOCAL` ends with the transaction: pooled
    # connections are not reset on release (core.bootstrap).
    async with conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        records = await conn.fetch(sql, *args)
    n = len(PostRow.__struct_fields__)
    return [
        PostHitRow(
            PostRow(*list(r.values())[:n]),
            r["title_hit"],
            r["phrase_hit"],
            r["rank"],
            marked(r["snippet"]),
            marked(r["title_snippet"]) if r["title_snippet"] is not None else None,
            r["newest"],
        )
        for r in records
    ]


class TagCount(msgspec.Struct, frozen=True):
    tag: str
    #: Public, visible, live posts with the tag.
    posts: int


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_tags(
    conn: asyncpg.Connection | asyncpg.Pool, prefix: str, limit: int
) -> list[TagCount]:
    """Known tags starting with `prefix` (normalised), most used first."""
    records = await conn.fetch(
        """SELECT tag, posts FROM posts.tags WHERE tag LIKE $1 AND posts > 0
           ORDER BY posts DESC, tag LIMIT $2""",
        _like_prefix(prefix),
        limit,
    )
    return [TagCount(*r.values()) for r in records]


class TrendingTag(msgspec.Struct, frozen=True):
    tag: str
    #: Distinct authors who used it in the window: what ranks it.
    authors: int
    posts: int


async def trending_tags(
    conn: asyncpg.Connection | asyncpg.Pool, since: datetime, limit: int
) -> list[TrendingTag]:
    """Tags of public, visible, live posts published since `since` by people who are not
    limited, by how many distinct authors used them (one person repeating a tag counts
    once), then by posts."""
    records = await conn.fetch(
        f"""SELECT t.tag, count(DISTINCT p.author_id)::int, count(*)::int
            FROM posts.posts p, unnest(p.tags) AS t(tag)
            WHERE p.published_at >= $1 AND p.deleted_at IS NULL AND p.tags <> '{{}}'
              AND {_COUNTED_P} AND {NOT_LIMITED.format(viewer="''")}
            GROUP BY t.tag
            ORDER BY 2 DESC, 3 DESC, t.tag
            LIMIT $2""",
        since,
        limit,
    )
    return [TrendingTag(*r.values()) for r in records]
