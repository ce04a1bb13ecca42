"""The station's health on the edge's own origin (`GET /v1/admin/station`), for the web app
whose policy allows no other origin: every module and dependency with its state, the read
models' lag and the dead letters, and the hub's dashboard address once a hub runs; only
admins read it."""

from __future__ import annotations

from core import embedded
from tests.support.identity import IdentityClient, WithRole
from tests.support.platform import Platform


async def test_admins_read_the_station_health_without_the_hub_and_with_it(
    client: IdentityClient, platform: Platform, with_role: WithRole
) -> None:
    admin = (await with_role("admin"))["access_token"]
    status, station = await client.get("/v1/admin/station", admin)
    assert status == 200, station
    assert station["state"] in ("up", "degraded", "down")
    assert {"nats", "postgres", "redis", "object_storage"} <= set(station["dependencies"])
    assert station["dependencies"]["postgres"]["state"] == "up"
    modules = {m["name"]: m for m in station["modules"]}
    assert modules["posts"]["state"] != "down" and modules["edge"]["instances"] >= 1
    # No hub yet: it is a module down, and there is no dashboard to point at.
    assert modules["hub"]["state"] == "down" and station["dashboard_url"] is None
    assert "posts" in {p["name"] for p in station["projections"]}
    assert isinstance(station["dead_letters"], dict)

    await platform.workers.start_hub("127.0.0.1", embedded.free_port())
    status, station = await client.get("/v1/admin/station", admin)
    assert status == 200, station
    assert station["dashboard_url"] == f"{platform.workers.hub_url}/"
    assert {m["name"]: m for m in station["modules"]}["hub"]["state"] == "up"

    moderator = (await with_role("moderator"))["access_token"]
    status, problem = await client.get("/v1/admin/station", moderator)
    assert (status, problem["type"]) == (403, "quark:permission-denied")
