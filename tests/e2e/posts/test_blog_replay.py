"""`quark replay --all` rebuilds every read model of the blog from the log — posts (with
search and tag counts), comments, reactions, categories, follows, timelines — into the same
answers: timelines, post views with their counts, threads, histories, search, trending
tags, all compared by digest. Readers keep getting answers while it runs."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from core.projection_worker import sink_for
from core.settings import Settings
from projections import projections
from tests.support.categories import create_category
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.log import head_position
from tests.support.moderation import moderate_comment, moderate_post
from tests.support.platform import Platform
from tests.support.timelines import HOME, PUBLIC, person, publish, relate, walk

#: Every read model the digest reads, by the streams they consume.
READ_MODELS = {
    "CONTENT": ("posts", "comments", "reactions", "categories", "timelines"),
    "PEOPLE": ("follows", "profiles", "timelines"),
}
QUERIES = ["собаки", "running", "кош", "garden party", "tea"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


async def settled(platform: Platform) -> str:
    for stream, names in READ_MODELS.items():
        head = await head_position(platform.infra, stream)
        for name in names:
            await platform.wait(name, head)
    return await head_position(platform.infra, "CONTENT")


async def active_builds(platform: Platform) -> dict[str, int]:
    names = {name for names in READ_MODELS.values() for name in names}
    builds = {}
    for name in names:
        active = await sink_for(projections()[name], platform.infra).active_build()
        assert active is not None
        builds[name] = active[0]
    return builds


async def answer(client: IdentityClient, path: str, token: str | None, after: str) -> Any:
    status, body = await client.get(path, token, **{"Quark-After": after})
    assert status == 200, (path, body)
    return body


async def digest(
    client: IdentityClient, people: list[dict[str, Any]], posts: list[str], after: str
) -> dict[str, str]:
    """What readers see, part by part (a failing part names itself)."""
    parts: dict[str, Any] = {"home": {}, "views": {}, "threads": {}, "search": {}}
    for p in people:
        parts["home"][p["handle"]] = await walk(client, HOME, p["token"], after=after, limit=3)
    parts["public"] = await walk(client, PUBLIC, None, after=after, limit=3)
    reader = people[0]["token"]
    for post_id in posts:
        status, view = await client.get(f"/v1/posts/{post_id}", reader, **{"Quark-After": after})
        parts["views"][post_id] = [status, view]
        if status == 200:
            thread = await answer(client, f"/v1/posts/{post_id}/comments", reader, after)
            history = await answer(client, f"/v1/posts/{post_id}/history", reader, after)
            parts["threads"][post_id] = [thread, history]
    for q in QUERIES:
        for kind in ("posts", "users", "tags"):
            found = await answer(client, f"/v1/search?q={q}&type={kind}", reader, after)
            parts["search"][f"{kind}:{q}"] = found
    parts["trending"] = await answer(client, "/v1/tags/trending", None, after)
    parts["tag page"] = await answer(client, "/v1/tags/pets/posts", reader, after)
    parts["category page"] = await answer(client, "/v1/categories/life/posts", reader, after)
    return {
        name: hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()
        for name, part in parts.items()
    }


async def test_replaying_every_read_model_gives_the_same_blog_while_readers_read(
    client: IdentityClient,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    with_role: Any,
) -> None:
    await create_category(client, with_role, "life", "Жизнь", "Life")
    people = [await person(client, f"replayer_{n}") for n in range(4)]
    a, b, c, d = people
    for follower, followee in ((a, b), (a, c), (b, a), (c, a), (d, a), (d, b)):
        await relate(client, follower, "POST follow", followee)
    bodies = [
        ("Собаки бегают по парку #pets", {"title": "Про собак", "category": "life"}),
        ("I was running with my dog #pets #Run", {}),
        ("Кошка спит весь день #pets", {"visibility": "followers"}),
        ("A garden party with tea and cake", {"title": "Garden party", "category": "life"}),
        ("Чай в саду #чай", {}),
        ("Tea, running, собака — всё сразу #Чай", {"category": "life"}),
    ]
    posts = []
    for n, (body, extra) in enumerate(bodies * 2):
        posts.append((await publish(client, people[n % 4], body, **extra))["id"])
    await settled(platform)
    # Edits, deletions, comments with replies, reactions, moderation, a block, an unfollow.
    status, _ = await client.call(
        "PATCH", f"/v1/posts/{posts[0]}", a["token"], {"body": "Собаки и кошки"}
    )
    assert status == 200
    status, _ = await client.call("DELETE", f"/v1/posts/{posts[1]}", b["token"])
    assert status == 200
    comments = []
    for n, post_id in enumerate(posts[3:9]):
        status, made, _ = await client.post(
            f"/v1/posts/{post_id}/comments", {"body": f"comment {n}"}, people[n % 4]["token"]
        )
        assert status == 201, made
        await platform.wait("comments", made["position"])  # another person replies to it
        status, reply, _ = await client.post(
            f"/v1/posts/{post_id}/comments",
            {"body": "a reply", "reply_to": made["id"]},
            people[(n + 1) % 4]["token"],
        )
        assert status == 201, reply
        comments.append(made["id"])
    for n, post_id in enumerate(posts[3:]):
        for who, kind in ((people[n % 4], "like"), (people[(n + 2) % 4], "love")):
            status, _ = await client.call(
                "PUT", f"/v1/posts/{post_id}/reactions/{kind}", who["token"]
            )
            assert status == 200
    status, _ = await client.call("PUT", f"/v1/comments/{comments[0]}/reactions/wow", c["token"])
    assert status == 200
    await moderate_post(platform.infra, posts[4], "hidden")
    await moderate_comment(platform.infra, comments[1], "held")
    await relate(client, d, "POST block", b)
    await relate(client, c, "DELETE follow", a)
    last = await settled(platform)
    before = await digest(client, people, posts, last)

    use_settings(monkeypatch, settings)
    replaying = True
    answers: list[int] = []

    async def keep_reading() -> None:
        while replaying:
            for path in (HOME, f"/v1/posts/{posts[5]}", "/v1/search?q=tea"):
                status, _ = await client.get(path, a["token"], **{"Quark-After": last})
                answers.append(status)
            await asyncio.sleep(0.01)

    builds = await active_builds(platform)
    reader = asyncio.create_task(keep_reading())
    try:
        assert await run_quark("replay", "--all") == 0
    finally:
        replaying = False
        await reader
    assert answers and set(answers) == {200}, answers
    # Every read model now answers from a new build, made from the log alone.
    after = await active_builds(platform)
    assert all(after[name] > builds[name] for name in builds), (builds, after)
    assert await digest(client, people, posts, await settled(platform)) == before
