"""A hidden post is gone from every place that lists posts — a follower's home, the public,
tag and category timelines, the author's posts, search, the post itself and its comments
— for everyone but its author, and back in all of them after a restore."""

from __future__ import annotations

import secrets
from typing import Any

from tests.e2e.moderation.test_decisions import decide
from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient
from tests.support.moderation import carried_out
from tests.support.platform import Platform
from tests.support.timelines import HOME, PUBLIC, person, publish, relate, settled


async def test_a_hidden_post_leaves_every_listing_and_comes_back(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    tag = f"gadget{secrets.token_hex(3)}"
    slug = f"tech-{secrets.token_hex(3)}"
    admin = await with_role("admin")
    status, _, _ = await client.post(
        "/v1/admin/categories",
        {"slug": slug, "name_ru": "Техника", "name_en": "Tech", "position": 1},
        admin["access_token"],
    )
    assert status == 201
    author = await person(client, f"au_{secrets.token_hex(3)}")
    follower = await person(client, f"fo_{secrets.token_hex(3)}")
    await relate(client, follower, "POST follow", author)
    await settled(platform)
    post = await publish(client, author, f"Shiny #{tag} on sale", category=slug)
    await platform.wait("posts", post["position"])
    # A comment on it, so the thread is checked too.
    status, comment, _ = await client.post(
        f"/v1/posts/{post['id']}/comments", {"body": "nice"}, follower["token"]
    )
    assert status == 201, comment
    head = await settled(platform)
    await platform.wait("comments", comment["position"])
    listings = {
        "home": HOME,
        "public": PUBLIC,
        "tag": f"/v1/tags/{tag}/posts",
        "category": f"/v1/categories/{slug}/posts",
        "author": f"/v1/posts?author={author['user_id']}",
    }

    async def seen_in(after: str) -> dict[str, bool]:
        found = {}
        for name, path in listings.items():
            sep = "&" if "?" in path else "?"
            status, page, _ = await _get(client, f"{path}{sep}limit=50", follower["token"], after)
            assert status == 200, (name, page)
            found[name] = post["id"] in [p["id"] for p in page["items"]]
        status, page, _ = await _get(
            client, f"/v1/search?q={tag}&type=posts", follower["token"], after
        )
        found["search"] = post["id"] in [p["post"]["id"] for p in page["items"]]
        status, _, _ = await _get(client, f"/v1/posts/{post['id']}", follower["token"], after)
        found["post"] = status == 200
        status, _, _ = await _get(
            client, f"/v1/posts/{post['id']}/comments", follower["token"], after
        )
        found["comments"] = status == 200
        return found

    everywhere = {name: True for name in [*listings, "search", "post", "comments"]}
    assert await seen_in(head) == everywhere

    moderator = await with_role("moderator")
    status, filed = await report(client, follower["token"], "post", post["id"])
    assert status == 201
    status, hidden = await decide(client, moderator["access_token"], filed["case_id"], ["hide"])
    assert status == 201, hidden
    head = await carried_out(platform, hidden["position"])
    await settled(platform)
    assert await seen_in(head) == {name: False for name in everywhere}
    # Its author still has it on their own list, marked.
    status, mine, _ = await _get(client, listings["author"], author["token"], head)
    assert [(p["id"], p["moderation"]) for p in mine["items"]] == [(post["id"], "hidden")]

    status, restored = await decide(
        client, moderator["access_token"], filed["case_id"], ["restore"]
    )
    assert status == 201, restored
    head = await carried_out(platform, restored["position"])
    await settled(platform)
    assert await seen_in(head) == everywhere


async def _get(client: IdentityClient, path: str, token: str, after: str) -> tuple[int, Any, None]:
    async with client.http.get(
        path, headers={"Authorization": f"Bearer {token}", "Quark-After": after}
    ) as resp:
        return resp.status, await resp.json(content_type=None), None
