"""A page of posts costs a bounded number of database queries, whatever its size: authors
(handle, name, avatar, VIP badge), attachments, counts, the reader's own reactions,
category and tags come in one query per kind for the whole page, never one per post.

The queries are counted with asyncpg's query loggers on every connection of the edge's pool
(the platform runs in this process): the driver's own hook, nothing replaced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from core.settings import Settings
from tests.support.categories import create_category
from tests.support.fake_push import pushes_settled
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.log import head_position
from tests.support.media import picture, ready, upload
from tests.support.platform import Platform
from tests.support.projections import checkpoints_stored
from tests.support.timelines import person, publish, relate


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


class QueryCounter:
    def __init__(self) -> None:
        self.queries: list[str] = []
        #: The pooled connection (its index) each of `queries` ran on.
        self.connections: list[int] = []
        #: The pool's connections themselves (asyncpg's, not the pool's proxies).
        self.raw: list[Any] = []
        self.on = False

    def releases(self) -> int:
        """How many times the pool has taken its connections back so far. asyncpg counts
        them on each connection (`_pool_release_ctr`, which its prepared statements use to
        notice a connection changed hands); the pool itself has no hook for it."""
        return sum(raw._pool_release_ctr for raw in self.raw)

    def logger(self, connection: int) -> Any:
        def log(record: Any) -> None:
            # The pool's reset on release and the driver's one-off type introspection are
            # not the page's queries.
            markers = ("pg_advisory_unlock_all", "typeinfo_tree", "'jit'")
            driver = any(m in record.query for m in markers)
            if self.on and not driver:
                self.queries.append(record.query)
                self.connections.append(connection)

        return log

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.queries = []
        self.connections = []
        self.on = True
        try:
            yield self.queries
        finally:
            self.on = False


async def count_queries_on(pool: asyncpg.Pool) -> QueryCounter:
    """A logger on every connection the pool can hand out (a logger stays with its
    connection across releases): all of them are acquired at once, so each exists. One
    may be held for good elsewhere (a LISTEN): taking stops when none is free."""
    counter = QueryCounter()
    held = []
    for _ in range(pool.get_max_size()):
        try:
            held.append(await pool.acquire(timeout=1.0))
        except TimeoutError:
            break
    try:
        for i, conn in enumerate(held):
            conn.add_query_logger(counter.logger(i))
            counter.raw.append(conn._con)
    finally:
        for conn in held:
            await pool.release(conn)
    # Those the projections hold for their lifetime are not the edge's to use.
    assert held
    return counter


async def test_a_page_of_posts_costs_the_same_few_queries_for_5_or_20_posts(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    await create_category(client, with_role, "cats", "Кошки", "Cats")
    authors = [await client.sign_up() for _ in range(4)]
    reader = await client.sign_up()
    tokens = [a["access_token"] for a in authors]
    for n, token in enumerate(tokens):
        status, _ = await client.call("PATCH", "/v1/me", token, {"handle": f"page_author_{n}"})
        assert status == 200
    # Avatars for two of them, a VIP badge for one.
    for token in tokens[:2]:
        _, media, _ = await upload(client.http, token, picture("PNG", 120, 120))
        await ready(client.http, platform.infra, token, media["id"])
        status, _ = await client.call("PATCH", "/v1/me", token, {"avatar_media_id": media["id"]})
        assert status == 200
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, _ = await client.call(
        "POST",
        f"/v1/admin/users/{authors[0]['user_id']}/vip",
        admin,
        {"until": until, "reason": "test"},
    )
    assert status == 200
    # Twenty-four posts: attachments on some, a category, tags, reactions and comments.
    photos = []
    for token in tokens[:2]:
        _, media, _ = await upload(client.http, token, picture("PNG", 200, 100))
        await ready(client.http, platform.infra, token, media["id"])
        photos.append(media["id"])
    posts = []
    for n in range(24):
        author = n % 4
        body: dict[str, Any] = {"body": f"post {n} #tag{n % 3} #common", "category": "cats"}
        if author < 2 and n < 8:
            body["media_ids"] = [photos[author]]
        status, created, _ = await client.post("/v1/posts", body, tokens[author])
        assert status == 201, created
        posts.append(created["id"])
    for post_id in posts[::2]:
        status, _ = await client.call("PUT", f"/v1/posts/{post_id}/reactions/like", tokens[1])
        assert status == 200
        status, _ = await client.call(
            "PUT", f"/v1/posts/{post_id}/reactions/love", reader["access_token"]
        )
        assert status == 200
    for post_id in posts[::3]:
        status, _, _ = await client.post(
            f"/v1/posts/{post_id}/comments", {"body": "nice"}, tokens[2]
        )
        assert status == 201
    read_models = {
        "CONTENT": ("posts", "reactions", "comments"),
        "PEOPLE": ("profiles", "follows"),
        "ACCOUNTS": ("profiles",),
        "MEDIA": ("media",),
    }
    for stream, names in read_models.items():
        head = await head_position(platform.infra, stream)
        for name in names:
            await platform.wait(name, head)
    # Nothing left in flight anywhere: the read models' checkpoints stored, the push sender
    # done with the notifications these writes made.
    await checkpoints_stored(platform)
    await pushes_settled(platform.infra)

    counter = await count_queries_on(platform.infra.pool)
    counts = {}
    for size in (5, 20):
        with counter.counting() as queries:
            status, page = await client.get(f"/v1/posts?limit={size}", reader["access_token"])
        assert status == 200 and len(page["items"]) == size
        counts[size] = list(queries)
        # Every part of the view is there.
        views = {p["id"]: p for p in page["items"]}
        first = views[posts[-4]]  # by authors[0]: VIP, avatar
        assert first["author"]["handle"] == "page_author_0" and first["author"]["vip"] is True
        assert first["author"]["avatar"]["variants"]["64"]["url"]
        assert views[posts[-1]]["author"]["vip"] is False
        assert views[posts[-1]]["author"]["avatar"] is None
        assert first["category"] == "cats" and "common" in first["tags"]
    with counter.counting() as queries:
        status, page = await client.get("/v1/posts?limit=24", reader["access_token"])
    assert len(page["items"]) == 24
    views = {p["id"]: p for p in page["items"]}
    assert views[posts[0]]["reactions"] == {"like": 1, "love": 1}
    assert views[posts[0]]["my_reactions"] == ["love"] and views[posts[0]]["comments"] == 1
    assert views[posts[1]]["reactions"] == {} and views[posts[1]]["comments"] == 0
    assert [m["id"] for m in views[posts[0]]["media"]] == [photos[0]]
    # Same number of queries for 5, 20 and 24 posts, and few of them: each read model is
    # asked once for the whole page (every one of them counted: none was missed).
    # (The five newest have no attachments, so one query fewer: nothing to look up.)
    assert len(counts[5]) <= len(counts[20]) == len(queries), (counts, queries)
    assert len(queries) <= 10, queries
    for table in ("posts.posts", "profiles.profiles", "media", "reaction_counts", "comment_counts"):
        assert sum(table in q for q in queries) >= 1, (table, queries)


async def test_a_timeline_page_runs_its_queries_on_one_held_connection(
    client: IdentityClient, platform: Platform
) -> None:
    """A page's queries follow each other: the page holds one pooled connection for all of
    them (`edge.context.page_reads`) instead of taking and giving back one per query."""
    author = await person(client, "one_connection_author")
    reader = await person(client, "one_connection_reader")
    await relate(client, reader, "POST follow", author)
    for n in range(3):
        await publish(client, author, f"post {n}")
    for stream in ("CONTENT", "PEOPLE"):
        head = await head_position(platform.infra, stream)
        for name in ("posts", "follows", "timelines", "reactions", "comments", "profiles"):
            await platform.wait(name, head)
    await checkpoints_stored(platform)
    await pushes_settled(platform.infra)

    counter = await count_queries_on(platform.infra.pool)
    for path in ("/v1/timelines/home", "/v1/timelines/public"):
        released = counter.releases()
        with counter.counting() as queries:
            status, page = await client.get(path, reader["access_token"])
        assert status == 200 and len(page["items"]) == 3, (path, page)
        # Posts, reactions (counts and mine), authors and comment counts at least, all on
        # one connection, taken once and given back once.
        assert len(queries) >= 4, (path, queries)
        assert len(set(counter.connections)) == 1, (path, counter.connections, queries)
        assert counter.releases() - released == 1, (path, queries)
