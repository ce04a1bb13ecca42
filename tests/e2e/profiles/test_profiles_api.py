"""Profiles and handles through HTTP: my profile, public profiles, search, handle claims."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.settings import Settings
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient
from tests.support.log import head_position, stream_head
from tests.support.media import picture, ready, upload
from tests.support.platform import Platform


async def _patch(
    client: IdentityClient, token: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with client.http.patch(
        "/v1/me", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, await resp.json()


async def _me(client: IdentityClient, token: str, after: str | None = None) -> dict[str, Any]:
    headers = {"Quark-After": after} if after else {}
    status, body = await client.get("/v1/me", token, **headers)
    assert status == 200, body
    return body


async def test_a_profile_starts_with_the_sign_up_and_changes_with_patch(
    client: IdentityClient, platform: Platform
) -> None:
    person = await client.sign_up(name="Ada Lovelace")
    token = person["access_token"]
    me = await _me(client, token, await head_position(platform.infra, "ACCOUNTS"))
    assert me["id"] == person["user_id"]
    assert (me["display_name"], me["handle"], me["bio"]) == ("Ada Lovelace", None, "")

    status, changed = await _patch(
        client,
        token,
        {"handle": "Ada_L", "bio": "Poet of science.\nAnalyst.", "locale": "en-GB"},
    )
    assert status == 200, changed
    me = await _me(client, token, changed["position"])
    assert (me["handle"], me["bio"], me["locale"]) == (
        "ada_l",
        "Poet of science.\nAnalyst.",
        "en-GB",
    )
    assert me["display_name"] == "Ada Lovelace"  # untouched fields stay

    # The public view, case-insensitively; no locale in it.
    status, public = await client.get("/v1/users/ADA_L")
    assert status == 200 and public["id"] == person["user_id"] and "locale" not in public
    status, _ = await client.get("/v1/users/nobody_here")
    assert status == 404

    # The avatar is my own processed image (the media context checks it).
    status, uploaded, _ = await upload(client.http, token, picture("PNG", 96, 96))
    assert status == 202, uploaded
    avatar = (await ready(client.http, platform.infra, token, uploaded["id"]))["id"]
    status, changed = await _patch(client, token, {"avatar_media_id": avatar})
    assert (await _me(client, token, changed["position"]))["avatar_media_id"] == avatar
    status, changed = await _patch(client, token, {"avatar_media_id": None})
    assert (await _me(client, token, changed["position"]))["avatar_media_id"] is None


async def test_search_finds_people_by_handle_and_name_prefix_best_first(
    client: IdentityClient,
) -> None:
    people = {}
    for handle, name in (
        ("grace", "Grace Hopper"),
        ("gracey", "Someone Else"),
        ("bob", "Amazing Grace"),
    ):
        person = await client.sign_up(name=name)
        status, changed = await _patch(client, person["access_token"], {"handle": handle})
        assert status == 200
        people[handle] = changed["position"]
    last = list(people.values())[-1]
    status, found = await client.get("/v1/users?query=Grace", **{"Quark-After": last})
    assert status == 200
    assert [p["handle"] for p in found["items"]] == ["grace", "gracey", "bob"]
    status, found = await client.get("/v1/users?query=hop", **{"Quark-After": last})
    assert [p["handle"] for p in found["items"]] == ["grace"]  # a word of the name
    status, found = await client.get("/v1/users?query=%25", **{"Quark-After": last})
    assert found["items"] == []  # % is a character here, not a wildcard
    for bad in ("", "x" * 65):
        status, _ = await client.get(f"/v1/users?query={bad}")
        assert status == 422


async def test_a_taken_handle_is_refused_and_a_released_one_cools_off(
    client: IdentityClient, platform: Platform
) -> None:
    alice, bob = await client.sign_up(), await client.sign_up()
    status, _ = await _patch(client, alice["access_token"], {"handle": "shared"})
    assert status == 200
    status, problem = await _patch(client, bob["access_token"], {"handle": "SHARED"})
    assert status == 409 and problem["type"] == "quark:handle-taken"
    # Alice renames: the old handle is not free for others during the cooling-off period…
    status, _ = await _patch(client, alice["access_token"], {"handle": "alice_new"})
    assert status == 200
    status, problem = await _patch(client, bob["access_token"], {"handle": "shared"})
    assert status == 409 and problem["type"] == "quark:handle-cooling-off"
    # … and is afterwards (2 s here, 30 days by default).
    await asyncio.sleep(2.1)
    status, changed = await _patch(client, bob["access_token"], {"handle": "shared"})
    assert status == 200
    status, public = await client.get("/v1/users/shared", **{"Quark-After": changed["position"]})
    assert public["id"] == bob["user_id"]


async def test_fifty_parallel_claims_of_one_handle_make_one_owner(
    client: IdentityClient, platform: Platform
) -> None:
    people = [await client.sign_up() for _ in range(50)]
    results = await asyncio.gather(
        *(_patch(client, p["access_token"], {"handle": "the_one"}) for p in people)
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * 49, statuses
    winner = people[[s for s, _ in results].index(200)]
    position = next(body["position"] for s, body in results if s == 200)
    status, public = await client.get("/v1/users/the_one", **{"Quark-After": position})
    assert status == 200 and public["id"] == winner["user_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"handle": "ab"}, "handle"),
        ({"handle": "no spaces"}, "handle"),
        ({"handle": "x" * 31}, "handle"),
        ({"handle": "admin"}, "handle"),
        ({"handle": "Support"}, "handle"),
        ({"bio": "b" * 501}, "bio"),
        ({"bio": "bell\x07"}, "bio"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "   "}, "display_name"),
        ({"locale": "english"}, "locale"),
        ({"avatar_media_id": "not-an-id"}, "avatar_media_id"),
        ({"display_name": 5}, "display_name"),
        ({"colour": "red"}, "colour"),
        ({}, "$"),
    ],
)
async def test_bad_profile_changes_are_problems_and_change_nothing(
    client: IdentityClient, platform: Platform, body: dict[str, Any], field: str
) -> None:
    person = await client.sign_up(name="Unchanged")
    before = await stream_head(platform.infra, "PEOPLE")
    status, problem = await _patch(client, person["access_token"], body)
    assert status == 422, problem
    assert problem["errors"][0]["field"] == field
    assert await stream_head(platform.infra, "PEOPLE") == before


async def test_profiles_need_a_token_and_change_only_ones_own(client: IdentityClient) -> None:
    status, _ = await client.get("/v1/me")
    assert status == 401
    async with client.http.patch("/v1/me", json={"bio": "x"}) as resp:
        assert resp.status == 401


async def test_a_replay_rebuilds_the_same_profiles(
    client: IdentityClient,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for handle in ("first_one", "second_one"):
        person = await client.sign_up(name=f"Person {handle}")
        status, changed = await _patch(
            client, person["access_token"], {"handle": handle, "bio": "hello"}
        )
        assert status == 200
    await platform.wait("profiles", changed["position"])
    await platform.wait("profiles", await head_position(platform.infra, "ACCOUNTS"))
    query = "SELECT user_id, handle, display_name, bio FROM profiles.profiles ORDER BY user_id"
    before = [tuple(r) for r in await platform.infra.pool.fetch(query)]
    assert len(before) == 2 and {r[1] for r in before} == {"first_one", "second_one"}
    use_settings(monkeypatch, settings)
    assert await run_quark("replay", "profiles") == 0
    after = [tuple(r) for r in await platform.infra.pool.fetch(query)]
    assert after == before


async def test_nobody_edits_another_persons_profile(
    client: IdentityClient, platform: Platform
) -> None:
    """A profile is changed only through /v1/me, as its owner: there is no address for
    changing someone else's, and the command carries the actor from the token."""
    owner = await client.sign_up(name="Owner")
    other = await client.sign_up(name="Other")
    status, changed = await _patch(client, owner["access_token"], {"handle": "the_owner"})
    assert status == 200
    headers = {"Authorization": f"Bearer {other['access_token']}"}
    for method in ("PATCH", "PUT", "POST", "DELETE"):
        async with client.http.request(
            method, "/v1/users/the_owner", json={"bio": "hijacked"}, headers=headers
        ) as resp:
            assert resp.status == 405, method
    status, public = await client.get("/v1/users/the_owner", **{"Quark-After": changed["position"]})
    assert public["bio"] == "" and public["display_name"] == "Owner"
