"""The nesting depth of a thread is a setting: with `comment_max_depth` 2, replies deeper
than two levels show at depth 2, right under their deepest shown ancestor."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.platform import Platform


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, comment_max_depth=2)


async def test_replies_deeper_than_the_setting_show_at_its_depth(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    status, post, _ = await client.post("/v1/posts", {"body": "deep"}, token)
    assert status == 201
    parent = None
    for n in range(5):
        body = {"body": f"level {n}", **({"reply_to": parent} if parent else {})}
        status, made, _ = await client.post(f"/v1/posts/{post['id']}/comments", body, token)
        assert status == 201, made
        parent = made["id"]
    status, page = await client.get(
        f"/v1/posts/{post['id']}/comments", token, **{"Quark-After": made["position"]}
    )
    assert [c["depth"] for c in page["items"]] == [0, 1, 2, 2, 2]
    assert [c["body"] for c in page["items"]] == [f"level {n}" for n in range(5)]
