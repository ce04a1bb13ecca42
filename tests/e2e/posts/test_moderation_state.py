"""Moderation states, set by events a test appends (the moderation context will send the
same events): a hidden or held post or comment is gone for everyone but its author — from
direct fetches, every listing, tag and category pages, threads, reactions and counts — and
the author sees it marked; made visible again, it is back everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from tests.support.categories import create_category
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.moderation import moderate_comment, moderate_post
from tests.support.platform import Platform


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


async def ids(client: IdentityClient, path: str, token: str | None, after: str) -> list[str]:
    status, page = await client.get(path, token, **{"Quark-After": after})
    assert status == 200, (path, page)
    return [item["id"] for item in page["items"]]


@pytest.mark.parametrize("state", ["hidden", "held"])
async def test_a_moderated_post_is_gone_for_others_marked_for_its_author_and_comes_back(
    client: IdentityClient, platform: Platform, with_role: Any, state: str
) -> None:
    await create_category(client, with_role, f"mod-{state}", "Модерация", "Moderation")
    author = await client.sign_up()
    reader = await client.sign_up()
    me, them = author["access_token"], reader["access_token"]
    status, post, _ = await client.post(
        "/v1/posts", {"body": f"#moderated {state}", "category": f"mod-{state}"}, me
    )
    assert status == 201
    await platform.wait("posts", post["position"])
    status, comment, _ = await client.post(f"/v1/posts/{post['id']}/comments", {"body": "c"}, them)
    assert status == 201
    listings = [
        "/v1/posts",
        f"/v1/posts?author={author['user_id']}",
        "/v1/tags/moderated/posts",
        f"/v1/categories/mod-{state}/posts",
        "/v1/timelines/public",
    ]
    for path in listings:
        assert post["id"] in await ids(client, path, them, comment["position"]), path

    hidden = await moderate_post(platform.infra, post["id"], state, reason="rule 1")
    for token in (them, None):
        status, problem = await client.get(
            f"/v1/posts/{post['id']}", token, **{"Quark-After": hidden}
        )
        assert (status, problem["type"]) == (404, "quark:post-not-found")
        for path in listings:
            assert post["id"] not in await ids(client, path, token, hidden), path
        for sub in ("comments", "history", "reactions"):
            status, _ = await client.get(f"/v1/posts/{post['id']}/{sub}", token)
            assert status == 404, sub
    status, _ = await client.call("PUT", f"/v1/posts/{post['id']}/reactions/like", them)
    assert status == 404
    status, _, _ = await client.post(f"/v1/posts/{post['id']}/comments", {"body": "d"}, them)
    assert status == 404
    # Its author still sees it, marked, in their own lists and by direct fetch.
    status, view = await client.get(f"/v1/posts/{post['id']}", me)
    assert status == 200 and view["moderation"] == state
    own = await ids(client, f"/v1/posts?author={author['user_id']}", me, hidden)
    assert post["id"] in own

    shown = await moderate_post(platform.infra, post["id"], "visible")
    status, view = await client.get(f"/v1/posts/{post['id']}", them, **{"Quark-After": shown})
    assert status == 200 and view["moderation"] == "visible" and view["comments"] == 1
    for path in listings:
        assert post["id"] in await ids(client, path, them, shown), path


async def test_a_hidden_comment_leaves_the_thread_and_the_count_and_comes_back(
    client: IdentityClient, platform: Platform
) -> None:
    author = await client.sign_up()
    commenter = await client.sign_up()
    reader = await client.sign_up()
    me, writer, them = (p["access_token"] for p in (author, commenter, reader))
    status, post, _ = await client.post("/v1/posts", {"body": "a thread"}, me)
    assert status == 201
    await platform.wait("posts", post["position"])
    status, first, _ = await client.post(f"/v1/posts/{post['id']}/comments", {"body": "1"}, writer)
    status, second, _ = await client.post(f"/v1/posts/{post['id']}/comments", {"body": "2"}, them)
    assert status == 201
    thread = f"/v1/posts/{post['id']}/comments"
    assert await ids(client, thread, them, second["position"]) == [first["id"], second["id"]]

    hidden = await moderate_comment(platform.infra, first["id"], "hidden")
    await moderate_comment(platform.infra, first["id"], "hidden")  # again: nothing changes
    hidden = await moderate_comment(platform.infra, first["id"], "held")
    for token in (them, me, None):
        assert await ids(client, thread, token, hidden) == [second["id"]]
        status, _ = await client.get(f"/v1/comments/{first['id']}/reactions", token)
        assert status == 404
    status, view = await client.get(f"/v1/posts/{post['id']}", them, **{"Quark-After": hidden})
    assert view["comments"] == 1  # the count is of what others may see
    status, _ = await client.call("PUT", f"/v1/comments/{first['id']}/reactions/like", them)
    assert status == 404
    # Its author sees it where it was, marked.
    status, page = await client.get(thread, writer)
    assert [(c["id"], c["moderation"]) for c in page["items"]] == [
        (first["id"], "held"),
        (second["id"], "visible"),
    ]

    shown = await moderate_comment(platform.infra, first["id"], "visible")
    assert await ids(client, thread, them, shown) == [first["id"], second["id"]]
    status, view = await client.get(f"/v1/posts/{post['id']}", them)
    assert view["comments"] == 2
    # Deleting a hidden comment does not take the count below what others see.
    await moderate_comment(platform.infra, second["id"], "hidden")
    status, deleted = await client.call("DELETE", f"/v1/comments/{second['id']}", them)
    assert status == 200
    status, view = await client.get(
        f"/v1/posts/{post['id']}", them, **{"Quark-After": deleted["position"]}
    )
    assert view["comments"] == 1
