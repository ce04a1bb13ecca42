"""Trending tags through HTTP: the last 24 hours, counted by distinct authors, and only from
posts anyone may see (a followers-only, hidden or deleted post never makes its tag known)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.bootstrap import Infra
from core.commands import format_position
from core.envelope import AggregateRef
from core.ids import new_id
from handlers.posts.decide import POST
from handlers.posts.events import PostPublished
from tests.support.identity import IdentityClient
from tests.support.moderation import moderate_post
from tests.support.platform import Platform


async def _publish(client: IdentityClient, token: str, body: str, **fields: Any) -> dict[str, Any]:
    status, created, _ = await client.post("/v1/posts", {"body": body, **fields}, token)
    assert status == 201, created
    return created


async def _trending(client: IdentityClient, after: str) -> list[tuple[str, int, int]]:
    status, page = await client.get("/v1/tags/trending?limit=50", None, **{"Quark-After": after})
    assert status == 200, page
    return [(t["tag"], t["authors"], t["posts"]) for t in page["items"]]


async def _published_at(infra: Infra, when: datetime, tags: list[str]) -> str:
    """A post published at `when` (the log keeps the time the handler gave it): appended
    as the posts context would, since no command publishes in the past."""
    post_id = new_id()
    event = PostPublished(
        post_id=post_id,
        author_id=new_id(),
        title=None,
        body=" ".join(f"#{t}" for t in tags),
        published_at=when,
        tags=tags,
    )
    result = await infra.store.append(
        AggregateRef(POST.type, post_id), 0, [event], command_id=new_id()
    )
    return format_position(result.stream, result.seq)


async def test_tags_trend_by_distinct_authors(client: IdentityClient) -> None:
    spammer = (await client.sign_up())["access_token"]
    for i in range(20):
        created = await _publish(client, spammer, f"#repeated again {i}")
    for _ in range(3):
        someone = (await client.sign_up())["access_token"]
        created = await _publish(client, someone, "#shared by many")
    assert await _trending(client, created["position"]) == [
        ("shared", 3, 3),
        ("repeated", 1, 20),
    ]


async def test_only_the_last_day_counts(client: IdentityClient, platform: Platform) -> None:
    now = datetime.now(UTC)
    for _ in range(3):
        await _published_at(platform.infra, now - timedelta(hours=25), ["yesterday"])
    position = await _published_at(platform.infra, now - timedelta(hours=23), ["today"])
    assert await _trending(client, position) == [("today", 1, 1)]


async def test_posts_others_may_not_see_never_make_a_tag_known(
    client: IdentityClient, platform: Platform
) -> None:
    author = (await client.sign_up())["access_token"]
    friends = await _publish(client, author, "#secretplan for followers", visibility="followers")
    hidden = await _publish(client, author, "#moderated words")
    deleted = await _publish(client, author, "#regretted words")
    public = await _publish(client, author, "#open words")
    after = public["position"]
    assert await _trending(client, after) == [
        ("moderated", 1, 1),
        ("open", 1, 1),
        ("regretted", 1, 1),
    ]
    status, gone = await client.call("DELETE", f"/v1/posts/{deleted['id']}", author)
    assert status == 200
    position = await moderate_post(platform.infra, hidden["id"], "hidden")
    await platform.wait("posts", gone["position"])
    assert await _trending(client, position) == [("open", 1, 1)]
    # Tag search counts the same posts: the followers-only tag stays unknown.
    for prefix, expected in (("secret", []), ("mod", []), ("op", [("open", 1)])):
        status, page = await client.get(
            f"/v1/search?type=tags&q={prefix}", None, **{"Quark-After": position}
        )
        assert status == 200, page
        assert [(t["tag"], t["posts"]) for t in page["items"]] == expected, prefix
    # Visible again, and made public: both come back, counted once each.
    position = await moderate_post(platform.infra, hidden["id"], "visible")
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{friends['id']}", author, {"visibility": "public"}
    )
    assert status == 200, edited
    await platform.wait("posts", position)
    assert await _trending(client, edited["position"]) == [
        ("moderated", 1, 1),
        ("open", 1, 1),
        ("secretplan", 1, 1),
    ]
    status, page = await client.get(
        "/v1/search?type=tags&q=secret", None, **{"Quark-After": edited["position"]}
    )
    assert [(t["tag"], t["posts"]) for t in page["items"]] == [("secretplan", 1)]


async def test_trending_refuses_what_it_does_not_know(client: IdentityClient) -> None:
    for query in ("limit=0", "limit=51", "limit=x", "window=1h"):
        status, problem = await client.get(f"/v1/tags/trending?{query}")
        assert status == 422, (query, problem)
