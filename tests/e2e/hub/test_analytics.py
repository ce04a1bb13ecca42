"""The dashboard's figures per hour (sign-ups, posts, messages) come from the stats read
model: what people just did is in the current hour, every hour of the range is listed."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.e2e.hub.conftest import bearer
from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform


async def test_what_people_did_this_hour(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any], client: IdentityClient
) -> None:
    async def now() -> dict[str, int]:
        async with hub.get("/v1/hub/analytics", params={"hours": "3"}, headers=bearer(admin)) as r:
            assert r.status == 200
            hours = (await r.json())["hours"]
        assert len(hours) == 3 and hours[0]["hour"] < hours[-1]["hour"]
        return hours[-1]

    await platform.wait("stats", await head_position(platform.infra, "ACCOUNTS"))
    before = await now()
    assert before["sign_ups"] >= 1  # the admin
    for n in range(2):
        status, _, _ = await client.post("/v1/posts", {"body": f"hour {n}"}, admin["access_token"])
        assert status == 201
    await client.sign_up()
    for stream in ("CONTENT", "ACCOUNTS"):
        await platform.wait("stats", await head_position(platform.infra, stream))
    after = await now()
    assert after["hour"] != before["hour"] or (
        after["posts"] == before["posts"] + 2 and after["sign_ups"] == before["sign_ups"] + 1
    )
    for bad in ("0", "169", "x"):
        async with hub.get("/v1/hub/analytics", params={"hours": bad}, headers=bearer(admin)) as r:
            assert r.status == 422
