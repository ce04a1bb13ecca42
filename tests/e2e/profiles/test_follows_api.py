"""Follows and blocks through HTTP: counters, paginated lists, and what a block prevents."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.identity import IdentityClient
from tests.support.platform import Platform


async def _person(client: IdentityClient, handle: str) -> dict[str, Any]:
    person = await client.sign_up(name=handle.title())
    async with client.http.patch(
        "/v1/me",
        json={"handle": handle},
        headers={"Authorization": f"Bearer {person['access_token']}"},
    ) as resp:
        assert resp.status == 200
        person["position"] = (await resp.json())["position"]
    return {**person, "handle": handle}


async def test_following_counts_and_lists_with_pagination(client: IdentityClient) -> None:
    await _person(client, "star")
    fans = [await _person(client, f"fan_{i}") for i in range(5)]
    last = None
    for fan in fans:
        status, body = await client.call(
            "POST", f"/v1/users/star/follow?after={fan['position']}", fan["access_token"]
        )
        assert status == 200, body
        last = body["position"]
    # Following twice changes nothing.
    status, again = await client.call("POST", "/v1/users/star/follow", fans[0]["access_token"])
    # … nothing new is written: the answer points at the first follow's commit.
    assert status == 200 and int(again["position"].split(":")[1]) < int(last.split(":")[1])
    status, profile = await client.get("/v1/users/star", **{"Quark-After": last})
    assert (profile["followers"], profile["following"]) == (5, 0)
    seen: list[str] = []
    url = "/v1/users/star/followers?limit=2"
    while url:
        status, page = await client.get(url, **{"Quark-After": last})
        assert status == 200 and len(page["items"]) <= 2
        seen += [p["handle"] for p in page["items"]]
        url = (
            f"/v1/users/star/followers?limit=2&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else ""
        )
    assert seen == [f"fan_{i}" for i in reversed(range(5))]  # newest first, each once
    status, following = await client.get("/v1/users/fan_0/following", **{"Quark-After": last})
    assert [p["handle"] for p in following["items"]] == ["star"]
    status, body = await client.call("DELETE", "/v1/users/star/follow", fans[0]["access_token"])
    status, profile = await client.get("/v1/users/star", **{"Quark-After": body["position"]})
    assert profile["followers"] == 4
    # A tampered cursor, a bad limit, an unknown person.
    status, _ = await client.get("/v1/users/star/followers?cursor=abc")
    assert status == 400
    status, _ = await client.get("/v1/users/star/followers?limit=0")
    assert status == 422
    status, _ = await client.get("/v1/users/nobody_at_all/followers")
    assert status == 404


async def test_a_block_ends_follows_and_keeps_the_blocked_person_out(
    client: IdentityClient, platform: Platform
) -> None:
    alice = await _person(client, "alice_b")
    mallory = await _person(client, "mallory")
    await platform.wait("profiles", mallory["position"])
    status, body = await client.call("POST", "/v1/users/alice_b/follow", mallory["access_token"])
    assert status == 200
    status, _ = await client.call("POST", "/v1/users/mallory/follow", alice["access_token"])
    status, post, _ = await client.post(
        "/v1/posts", {"title": "mine", "body": "text"}, alice["access_token"]
    )
    assert status == 201
    status, body = await client.call("POST", "/v1/users/mallory/block", alice["access_token"])
    assert status == 200
    await platform.wait("follows", body["position"])
    await platform.wait("posts", post["position"])
    status, profile = await client.get("/v1/users/alice_b")
    assert (profile["followers"], profile["following"]) == (0, 0)  # both ways ended
    # Mallory cannot follow Alice again, nor see her posts; others (and anonymous) can.
    status, problem = await client.call("POST", "/v1/users/alice_b/follow", mallory["access_token"])
    assert status == 403 and problem["type"] == "quark:blocked"
    status, _ = await client.call("GET", f"/v1/posts/{post['id']}", mallory["access_token"])
    assert status == 404
    status, listed = await client.call(
        "GET", f"/v1/posts?author={alice['user_id']}", mallory["access_token"]
    )
    assert listed["items"] == []
    status, _ = await client.get(f"/v1/posts/{post['id']}")
    assert status == 200
    # Alice cannot follow the person she blocked either, until she unblocks.
    status, _ = await client.call("POST", "/v1/users/mallory/follow", alice["access_token"])
    assert status == 403
    status, body = await client.call("DELETE", "/v1/users/mallory/block", alice["access_token"])
    assert status == 200
    status, _ = await client.call("POST", "/v1/users/alice_b/follow", mallory["access_token"])
    assert status == 200


async def test_relations_need_a_token_and_two_people(
    client: IdentityClient, platform: Platform
) -> None:
    solo = await _person(client, "solo_one")
    await platform.wait("profiles", solo["position"])
    status, _ = await client.call("POST", "/v1/users/solo_one/follow")
    assert status == 401
    status, problem = await client.call("POST", "/v1/users/solo_one/follow", solo["access_token"])
    assert status == 422 and problem["type"] == "quark:self-relation"
    status, _ = await client.call("POST", "/v1/users/no_such_one/block", solo["access_token"])
    assert status == 404


async def test_parallel_follow_and_block_never_leave_a_follow_behind(
    client: IdentityClient, platform: Platform
) -> None:
    """Both are decided on one aggregate for the pair: whichever commits second sees the
    other, so a block never coexists with a follow."""
    a = await _person(client, "racer_a")
    b = await _person(client, "racer_b")
    await platform.wait("profiles", b["position"])
    results = await asyncio.gather(
        client.call("POST", "/v1/users/racer_a/follow", b["access_token"]),
        client.call("POST", "/v1/users/racer_b/block", a["access_token"]),
    )
    assert results[1][0] == 200
    position = max(
        (r[1]["position"] for r in results if r[0] == 200), key=lambda p: int(p.split(":")[1])
    )
    status, profile = await client.get("/v1/users/racer_a", **{"Quark-After": position})
    assert status == 200 and profile["followers"] == 0
