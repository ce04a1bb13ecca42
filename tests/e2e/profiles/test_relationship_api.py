"""A public profile tells a signed-in reader how they and its person relate (what the web
app's follow and block buttons show); anonymous readers and the person themself get null."""

from __future__ import annotations

from typing import Any

from tests.support.identity import IdentityClient


async def _person(client: IdentityClient, handle: str) -> dict[str, Any]:
    person = await client.sign_up(name=handle.title())
    status, body = await client.call("PATCH", "/v1/me", person["access_token"], {"handle": handle})
    assert status == 200, body
    return {**person, "handle": handle, "position": body["position"]}


async def test_the_profile_says_who_follows_and_blocks_whom(client: IdentityClient) -> None:
    ann = await _person(client, "rel_ann")
    bob = await _person(client, "rel_bob")
    token = ann["access_token"]

    def relation(**changed: bool) -> dict[str, bool]:
        base = {"following": False, "followed_by": False, "blocking": False, "blocked_by": False}
        return {**base, **changed}

    # Bob's handle is his write: Ann waits for it; her own writes she sees without asking.
    status, profile = await client.get(
        "/v1/users/rel_bob", token, **{"Quark-After": bob["position"]}
    )
    assert status == 200 and profile["relationship"] == relation()
    status, _ = await client.call("POST", "/v1/users/rel_bob/follow", token)
    status, profile = await client.get("/v1/users/rel_bob", token)
    assert profile["relationship"] == relation(following=True) and profile["followers"] == 1
    status, _ = await client.call("POST", "/v1/users/rel_ann/follow", bob["access_token"])
    status, profile = await client.get("/v1/users/rel_ann", bob["access_token"])
    assert profile["relationship"] == relation(following=True, followed_by=True)

    # A block ends the follows both ways; each side sees its half.
    status, blocked = await client.call("POST", "/v1/users/rel_bob/block", token)
    assert status == 200
    status, profile = await client.get("/v1/users/rel_bob", token)
    assert profile["relationship"] == relation(blocking=True)
    status, profile = await client.get(
        "/v1/users/rel_ann", bob["access_token"], **{"Quark-After": blocked["position"]}
    )
    assert profile["relationship"] == relation(blocked_by=True)
    status, _ = await client.call("DELETE", "/v1/users/rel_bob/block", token)
    status, profile = await client.get("/v1/users/rel_bob", token)
    assert profile["relationship"] == relation()

    # Nobody signed in, or oneself: nothing to relate.
    status, profile = await client.get("/v1/users/rel_bob")
    assert status == 200 and profile["relationship"] is None
    status, profile = await client.get("/v1/users/rel_ann", token)
    assert status == 200 and profile["relationship"] is None
