"""Reactions on posts as a client sees them: idempotent PUT and DELETE, counts and the
reader's own kinds in post views, what a blocked person or a wrong address gets, many
people at once, and counts that stay exact when events are applied again."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from core.commands import parse_position
from core.ids import new_id
from core.settings import Settings
from handlers.profiles.commands import Block
from tests.support.auth import as_user
from tests.support.cli import run_quark, use_settings
from tests.support.log import head_position, stream_head
from tests.support.platform import Platform
from tests.support.projections import redeliver

AUTHOR = new_id()
READER = new_id()

pytestmark = pytest.mark.usefixtures("signed_in")


async def publish(http: aiohttp.ClientSession, title: str = "Hello") -> dict[str, Any]:
    async with http.post(
        "/v1/posts", json={"title": title, "body": "text"}, headers=as_user(AUTHOR)
    ) as resp:
        assert resp.status == 201, await resp.text()
        post = await resp.json()
    # Readers other than the author see it from here on.
    async with http.get(
        f"/v1/posts/{post['id']}", headers={"Quark-After": post["position"]}
    ) as resp:
        assert resp.status == 200
    return post


async def change(
    http: aiohttp.ClientSession, method: str, post_id: str, kind: str, user: str = READER
) -> tuple[int, dict[str, Any], str | None]:
    async with http.request(
        method, f"/v1/posts/{post_id}/reactions/{kind}", headers=as_user(user)
    ) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers.get("Quark-Position")


async def react(http: aiohttp.ClientSession, post_id: str, kind: str, user: str = READER) -> str:
    status, body, header = await change(http, "PUT", post_id, kind, user)
    assert status == 200, body
    assert body["position"] == header and (body["post_id"], body["kind"]) == (post_id, kind)
    return body["position"]


async def unreact(http: aiohttp.ClientSession, post_id: str, kind: str, user: str = READER) -> str:
    status, body, header = await change(http, "DELETE", post_id, kind, user)
    assert status == 200, body
    assert body["position"] == header
    return body["position"]


async def reactions(
    http: aiohttp.ClientSession, post_id: str, *, user: str | None = None, after: str = ""
) -> dict[str, Any]:
    headers = as_user(user) if user else {}
    if after:
        headers["Quark-After"] = after
    async with http.get(f"/v1/posts/{post_id}/reactions", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def seq(position: str) -> int:
    return parse_position(position)[1]


async def test_reacting_twice_appends_once_and_taking_back_twice_too(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    post = await publish(http)
    added = await react(http, post["id"], "like")
    head = await stream_head(platform.infra, "CONTENT")
    # The second PUT changes nothing: no event, and the answer is the reaction's position.
    assert await react(http, post["id"], "like") == added
    assert await stream_head(platform.infra, "CONTENT") == head
    assert await reactions(http, post["id"], user=READER) == {
        "counts": {"like": 1},
        "mine": ["like"],
    }

    removed = await unreact(http, post["id"], "like")
    assert seq(removed) > seq(added)
    head = await stream_head(platform.infra, "CONTENT")
    assert await unreact(http, post["id"], "like") == removed
    assert await unreact(http, post["id"], "wow") == removed  # never there either
    assert await stream_head(platform.infra, "CONTENT") == head
    assert await reactions(http, post["id"], user=READER) == {"counts": {}, "mine": []}


async def test_post_views_show_the_counts_and_the_readers_own_reactions(
    http: aiohttp.ClientSession,
) -> None:
    first, second = await publish(http, "first"), await publish(http, "second")
    other = new_id()
    await react(http, first["id"], "love")
    await react(http, first["id"], "like")
    await react(http, first["id"], "love", other)
    last = await react(http, second["id"], "sad", other)

    # The reader's own writes are visible to them without any header.
    async with http.get(f"/v1/posts/{first['id']}", headers=as_user(READER)) as resp:
        view = await resp.json()
    assert view["my_reactions"] == ["like", "love"]
    # Someone else's, once the read model has them (read-your-writes covers one's own only).
    headers = {**as_user(READER), "Quark-After": last}
    async with http.get(f"/v1/posts/{first['id']}", headers=headers) as resp:
        view = await resp.json()
    # Kinds in their fixed order, whichever came first.
    assert list(view["reactions"].items()) == [("like", 1), ("love", 2)]
    assert view["my_reactions"] == ["like", "love"]

    async with http.get("/v1/posts", headers={"Quark-After": last}) as resp:
        page = await resp.json()
    anonymous = {p["id"]: (p["reactions"], p["my_reactions"]) for p in page["items"]}
    assert anonymous == {
        first["id"]: ({"like": 1, "love": 2}, []),
        second["id"]: ({"sad": 1}, []),
    }
    async with http.get("/v1/posts", headers=as_user(other)) as resp:
        page = await resp.json()
    mine = {p["id"]: p["my_reactions"] for p in page["items"]}
    assert mine == {first["id"]: ["love"], second["id"]: ["sad"]}
    assert await reactions(http, second["id"]) == {"counts": {"sad": 1}, "mine": []}


async def test_an_unknown_kind_is_invalid_and_appends_nothing(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    post = await publish(http)
    head = await stream_head(platform.infra, "CONTENT")
    for method in ("PUT", "DELETE"):
        status, problem, _ = await change(http, method, post["id"], "heart")
        assert status == 422
        assert problem["type"] == "quark:unknown-reaction-kind"
        assert problem["errors"][0]["field"] == "kind"
    assert await stream_head(platform.infra, "CONTENT") == head


async def test_reacting_to_a_post_that_does_not_exist_is_not_found(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    await publish(http)
    head = await stream_head(platform.infra, "CONTENT")
    for post_id in (new_id(), "not-a-post"):
        for method in ("PUT", "DELETE"):
            status, problem, _ = await change(http, method, post_id, "like")
            assert (status, problem["type"]) == (404, "quark:post-not-found")
        async with http.get(f"/v1/posts/{post_id}/reactions") as resp:
            assert resp.status == 404
    assert await stream_head(platform.infra, "CONTENT") == head


async def test_a_blocked_person_cannot_see_or_react_to_the_blockers_posts(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    post = await publish(http)
    await react(http, post["id"], "like", new_id())
    blocked = await platform.infra.bus.send(Block(target_id=READER), actor=AUTHOR, roles={"user"})
    assert blocked.position
    await platform.wait("follows", blocked.position)
    head = await stream_head(platform.infra, "CONTENT")
    for method in ("PUT", "DELETE"):
        status, problem, _ = await change(http, method, post["id"], "like")
        # As if the post did not exist: a 403 would tell them it does.
        assert (status, problem["type"]) == (404, "quark:post-not-found")
    async with http.get(f"/v1/posts/{post['id']}/reactions", headers=as_user(READER)) as resp:
        assert resp.status == 404
    assert await stream_head(platform.infra, "CONTENT") == head
    # Everyone else still sees the post and its reaction.
    assert (await reactions(http, post["id"]))["counts"] == {"like": 1}


PEOPLE = [new_id() for _ in range(50)]


async def fifty_people_react(http: aiohttp.ClientSession, post_id: str) -> list[str]:
    """Everyone in `PEOPLE` likes the post at once; their positions."""
    return list(await asyncio.gather(*(react(http, post_id, "like", p) for p in PEOPLE)))


async def test_fifty_people_reacting_at_once_all_count(http: aiohttp.ClientSession) -> None:
    post = await publish(http)
    positions = await fifty_people_react(http, post["id"])
    assert len(set(positions)) == 50  # one commit each: nobody's was lost in a conflict
    last = max(positions, key=seq)
    assert await reactions(http, post["id"], after=last) == {"counts": {"like": 50}, "mine": []}
    assert (await reactions(http, post["id"], user=PEOPLE[7]))["mine"] == ["like"]


async def test_counts_stay_exact_when_events_are_applied_again_and_after_a_replay(
    http: aiohttp.ClientSession,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post = await publish(http)
    await fifty_people_react(http, post["id"])
    # Kinds that come and go: ten people love it, take it back, and one loves it again.
    for person in PEOPLE[:10]:
        await react(http, post["id"], "love", person)
    for person in PEOPLE[:10]:
        await unreact(http, post["id"], "love", person)
    last = await react(http, post["id"], "love", PEOPLE[0])
    expected = {"counts": {"like": 50, "love": 1}, "mine": ["like", "love"]}
    assert await reactions(http, post["id"], user=PEOPLE[0], after=last) == expected
    rows = "SELECT count(*) FROM reactions.reactions"
    assert await platform.infra.pool.fetchval(rows) == 51

    # Every reaction delivered again to the read model that holds them: in batches, then
    # one by one (how events are retried after a failed batch).
    for max_batch in (1000, 1):
        await redeliver(
            platform, "reactions", "CONTENT", since=seq(post["position"]), max_batch=max_batch
        )
        assert await reactions(http, post["id"], user=PEOPLE[0]) == expected
        assert await platform.infra.pool.fetchval(rows) == 51

    use_settings(monkeypatch, settings)
    assert await run_quark("replay", "reactions") == 0
    after = await head_position(platform.infra, "CONTENT")
    assert await reactions(http, post["id"], user=PEOPLE[0], after=after) == expected
    assert await platform.infra.pool.fetchval(rows) == 51
