"""Activity history through HTTP: what a person did and what was done to them, newest
first, paginated; admins see anyone's; VIP expiry shows without any job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.support.identity import IdentityClient, WithRole
from tests.support.log import head_position
from tests.support.platform import Platform


async def test_activity_tells_what_happened_newest_first(
    client: IdentityClient,
    platform: Platform,
    with_role: WithRole,
) -> None:
    admin_tokens = await with_role("admin")
    person = await client.sign_up()
    other = await client.sign_up()
    token = person["access_token"]
    status, _ = await client.call("PATCH", "/v1/me", token, {"bio": "hi", "handle": "actor_one"})
    status, _ = await client.call("PATCH", "/v1/me", other["access_token"], {"handle": "other_one"})
    await platform.wait("profiles", await head_position(platform.infra, "PEOPLE"))
    status, _ = await client.call("POST", "/v1/users/other_one/follow", token)
    assert status == 200
    status, _, _ = await client.post("/v1/posts", {"title": "t", "body": "b"}, token)
    until = datetime.now(UTC) + timedelta(seconds=1)
    status, vip = await client.call(
        "POST",
        f"/v1/admin/users/{person['user_id']}/vip",
        admin_tokens["access_token"],
        {"until": until.isoformat(), "reason": "promo"},
    )
    assert status == 200 and datetime.fromisoformat(vip["vip_until"]) == until
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    for stream in ("ACCOUNTS", "PEOPLE", "CONTENT"):
        await platform.wait("activity", await head_position(platform.infra, stream))
    status, page = await client.get("/v1/me/activity", token)
    assert status == 200
    kinds = [e["kind"] for e in page["items"]]
    assert kinds[0] == "vip-expired"  # the grant's end, derived, newest
    assert kinds[1:] == ["vip-granted", "posted", "followed", "profile-changed", "signed-up"]
    assert page["items"][4]["detail"] == {"fields": ["bio", "handle"]}
    # The other side of the follow sees it too.
    status, theirs = await client.get("/v1/me/activity", other["access_token"])
    assert [e["kind"] for e in theirs["items"]][:1] == ["got-follower"]
    # Pages: two at a time, same entries in the same order.
    seen, url = [], "/v1/me/activity?limit=2"
    while url:
        status, p = await client.get(url, token)
        assert status == 200
        seen += [e["kind"] for e in p["items"] if e["kind"] != "vip-expired"]
        url = f"/v1/me/activity?limit=2&cursor={p['next_cursor']}" if p["next_cursor"] else ""
    assert seen == kinds[1:]
    # Admins see anyone's; nobody else does.
    status, by_admin = await client.call(
        "GET", f"/v1/admin/users/{person['user_id']}/activity", admin_tokens["access_token"]
    )
    assert status == 200 and [e["kind"] for e in by_admin["items"]] == kinds
    status, _ = await client.call(
        "GET", f"/v1/admin/users/{person['user_id']}/activity", other["access_token"]
    )
    assert status == 403
    status, _ = await client.get("/v1/me/activity?cursor=forged", token)
    assert status == 400
