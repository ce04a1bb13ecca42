"""VIP (granted by admins, ending by itself) and devices (sessions a person names)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.perks import STANDARD, VIP
from tests.support.identity import IdentityClient, WithRole
from tests.support.log import head_position
from tests.support.platform import Platform


async def test_vip_is_granted_extended_and_ends_by_itself(
    client: IdentityClient, with_role: WithRole
) -> None:
    admin_tokens = await with_role("admin")
    person = await client.sign_up()
    path = f"/v1/admin/users/{person['user_id']}/vip"
    soon = datetime.now(UTC) + timedelta(seconds=3)
    # Only admins grant VIP.
    status, _ = await client.call(
        "POST", path, person["access_token"], {"until": soon.isoformat(), "reason": "me"}
    )
    assert status == 403
    status, granted = await client.call(
        "POST",
        path,
        admin_tokens["access_token"],
        {"until": soon.isoformat(), "reason": "launch"},
    )
    assert status == 200, granted
    status, me = await client.get(
        "/v1/me", person["access_token"], **{"Quark-After": granted["position"]}
    )
    assert me["vip"] is True and me["perks"] == VIP
    # A shorter or past "grant" is refused; a later one extends.
    status, _ = await client.call(
        "POST",
        path,
        admin_tokens["access_token"],
        {"until": (soon - timedelta(seconds=1)).isoformat(), "reason": "x"},
    )
    assert status == 422
    status, _ = await client.call(
        "POST",
        path,
        admin_tokens["access_token"],
        {"until": "2020-01-01T00:00:00Z", "reason": "x"},
    )
    assert status == 422
    later = soon + timedelta(seconds=1)
    status, extended = await client.call(
        "POST",
        path,
        admin_tokens["access_token"],
        {"until": later.isoformat(), "reason": "more"},
    )
    assert status == 200
    # The admins' list of people says until when.
    status, listed = await client.get(
        "/v1/admin/users?limit=200",
        admin_tokens["access_token"],
        **{"Quark-After": extended["position"]},
    )
    (row,) = [u for u in listed["items"] if u["id"] == person["user_id"]]
    assert datetime.fromisoformat(row["vip_until"]) == later
    # Expiry needs no job: once `until` has passed the badge and the perks are gone.
    await asyncio.sleep(max(0.0, (later - datetime.now(UTC)).total_seconds()) + 0.2)
    status, me = await client.get(
        "/v1/me", person["access_token"], **{"Quark-After": extended["position"]}
    )
    assert me["vip"] is False and me["perks"] == STANDARD


async def test_devices_are_sessions_a_person_can_name(
    client: IdentityClient, platform: Platform
) -> None:
    person = await client.sign_up()
    token = person["access_token"]
    after = await head_position(platform.infra, "ACCOUNTS")
    status, devices = await client.get("/v1/me/devices", token, **{"Quark-After": after})
    assert status == 200
    [device] = devices["items"]
    assert device["id"] == person["session_id"] and device["current"] is True
    assert device["name"] == "Python" and device["push_subscription"] is None
    async with client.http.patch(
        f"/v1/me/devices/{device['id']}",
        json={"name": "Ada's laptop"},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 204
        position = resp.headers["Quark-Position"]
    status, devices = await client.get("/v1/me/devices", token, **{"Quark-After": position})
    assert devices["items"][0]["name"] == "Ada's laptop"
    assert devices["items"][0]["device"] == "Python"
    for bad in ({"name": ""}, {"name": "x" * 65}, {"name": 5}, {"nom": "x"}):
        status, _ = await client.call("PATCH", f"/v1/me/devices/{device['id']}", token, bad)
        assert status == 422, bad
    other = await client.sign_up()
    status, _ = await client.call(
        "PATCH", f"/v1/me/devices/{other['session_id']}", token, {"name": "mine now"}
    )
    assert status == 404  # someone else's device does not exist for you
