"""Reactions on comments: idempotent PUT and DELETE, counts and the reader's own kinds in
the thread's views, exact counts under fifty people at once and redelivery, and what a
blocked person, a stranger to the post or anyone facing a deleted comment gets."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from core.commands import parse_position
from core.ids import new_id
from handlers.profiles.commands import Block
from tests.support.auth import as_user
from tests.support.log import stream_head
from tests.support.platform import Platform
from tests.support.projections import redeliver

AUTHOR = new_id()
COMMENTER = new_id()
READER = new_id()

pytestmark = pytest.mark.usefixtures("signed_in")


def seq(position: str) -> int:
    return parse_position(position)[1]


async def post_and_comment(
    http: aiohttp.ClientSession, platform: Platform, visibility: str = "public"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A post and a comment under it, both readable by everyone once this returns."""
    async with http.post(
        "/v1/posts", json={"body": "a post", "visibility": visibility}, headers=as_user(AUTHOR)
    ) as resp:
        assert resp.status == 201, await resp.text()
        post = await resp.json()
    async with http.post(
        f"/v1/posts/{post['id']}/comments",
        json={"body": "a comment"},
        headers={
            **as_user(AUTHOR if visibility != "public" else COMMENTER),
            "Quark-After": post["position"],
        },
    ) as resp:
        assert resp.status == 201, await resp.text()
        comment = await resp.json()
    await platform.wait("posts", comment["position"])
    await platform.wait("comments", comment["position"])
    return post, comment


async def change(
    http: aiohttp.ClientSession, method: str, comment_id: str, kind: str, user: str = READER
) -> tuple[int, dict[str, Any]]:
    async with http.request(
        method, f"/v1/comments/{comment_id}/reactions/{kind}", headers=as_user(user)
    ) as resp:
        return resp.status, await resp.json(content_type=None)


async def react(http: aiohttp.ClientSession, comment_id: str, kind: str, user: str = READER) -> str:
    status, body = await change(http, "PUT", comment_id, kind, user)
    assert status == 200, body
    assert (body["comment_id"], body["kind"]) == (comment_id, kind)
    return body["position"]


async def counts(
    http: aiohttp.ClientSession, comment_id: str, *, user: str | None = None, after: str = ""
) -> dict[str, Any]:
    headers = as_user(user) if user else {}
    if after:
        headers["Quark-After"] = after
    async with http.get(f"/v1/comments/{comment_id}/reactions", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def thread(
    http: aiohttp.ClientSession, post_id: str, user: str | None = None, after: str = ""
) -> list[dict[str, Any]]:
    headers = as_user(user) if user else {}
    if after:
        headers["Quark-After"] = after
    async with http.get(f"/v1/posts/{post_id}/comments", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["items"]


async def test_reacting_to_a_comment_is_idempotent_and_shows_in_the_thread(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    post, comment = await post_and_comment(http, platform)
    added = await react(http, comment["id"], "laugh")
    head = await stream_head(platform.infra, "CONTENT")
    assert await react(http, comment["id"], "laugh") == added
    assert await stream_head(platform.infra, "CONTENT") == head
    await react(http, comment["id"], "like", AUTHOR)
    last = await react(http, comment["id"], "laugh", AUTHOR)

    [view] = await thread(http, post["id"], READER, after=last)
    assert view["reactions"] == {"like": 1, "laugh": 2}
    assert view["my_reactions"] == ["laugh"]
    assert view["author_id"] == COMMENTER and view["moderation"] == "visible"
    [anonymous] = await thread(http, post["id"])
    assert anonymous["my_reactions"] == [] and anonymous["reactions"] == view["reactions"]

    status, body = await change(http, "DELETE", comment["id"], "laugh")
    assert status == 200
    assert await counts(http, comment["id"], user=READER, after=body["position"]) == {
        "counts": {"like": 1, "laugh": 1},
        "mine": [],
    }
    # A kind outside the set is the client's mistake, checked before anything is looked up.
    status, problem = await change(http, "PUT", comment["id"], "meh")
    assert status == 422 and problem["type"] == "quark:unknown-reaction-kind"


async def test_fifty_reactors_at_once_and_redelivery_keep_comment_counts_exact(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    post, comment = await post_and_comment(http, platform)
    people = [new_id() for _ in range(50)]
    positions = await asyncio.gather(*(react(http, comment["id"], "love", p) for p in people))
    assert len(set(positions)) == 50
    last = max(positions, key=seq)
    expected = {"counts": {"love": 50}, "mine": ["love"]}
    assert await counts(http, comment["id"], user=people[3], after=last) == expected
    for max_batch in (1000, 1):
        await redeliver(
            platform, "reactions", "CONTENT", since=seq(post["position"]), max_batch=max_batch
        )
        assert await counts(http, comment["id"], user=people[3]) == expected
    [view] = await thread(http, post["id"], people[3])
    assert view["reactions"] == {"love": 50} and view["my_reactions"] == ["love"]


async def test_who_cannot_react_to_a_comment_gets_not_found_and_nothing_is_written(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    # A comment under a followers-only post: a stranger may not see it, so may not react.
    hidden_post, hidden_comment = await post_and_comment(http, platform, "followers")
    # A comment whose author blocked the reader.
    _, blocked_comment = await post_and_comment(http, platform)
    blocked = await platform.infra.bus.send(
        Block(target_id=READER), actor=COMMENTER, roles={"user"}
    )
    assert blocked.position
    await platform.wait("follows", blocked.position)
    # A deleted comment.
    _, gone = await post_and_comment(http, platform)
    async with http.delete(f"/v1/comments/{gone['id']}", headers=as_user(COMMENTER)) as resp:
        assert resp.status == 200
        deleted = await resp.json()
    head = await stream_head(platform.infra, "CONTENT")
    for comment_id in (hidden_comment["id"], blocked_comment["id"], gone["id"], new_id()):
        for method in ("PUT", "DELETE"):
            async with http.request(
                method,
                f"/v1/comments/{comment_id}/reactions/like",
                headers={**as_user(READER), "Quark-After": deleted["position"]},
            ) as resp:
                problem = await resp.json(content_type=None)
                assert (resp.status, problem["type"]) == (404, "quark:comment-not-found")
        async with http.get(
            f"/v1/comments/{comment_id}/reactions", headers=as_user(READER)
        ) as resp:
            assert resp.status == 404
    assert await stream_head(platform.infra, "CONTENT") == head
    # The post's author (who follows nobody here but wrote it) still may.
    await react(http, hidden_comment["id"], "wow", AUTHOR)
    assert hidden_post["id"]
