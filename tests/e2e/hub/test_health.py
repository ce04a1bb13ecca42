"""The station's health through the hub: up when everything runs; a stopped read model
falls behind and makes the station degraded (not down) with its lag in events and seconds;
PostgreSQL unreachable makes it down (503 with Retry-After) and naming the reason."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest

from core.settings import Settings
from tests.e2e.hub.conftest import bearer
from tests.support.identity import IdentityClient
from tests.support.platform import Platform

MAX_EVENTS = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(hub_lag_degraded_events=MAX_EVENTS, hub_lag_degraded_seconds=60.0)


async def health(hub: aiohttp.ClientSession, admin: dict[str, Any]) -> tuple[int, dict]:
    async with hub.get("/v1/hub/health", headers=bearer(admin)) as r:
        return r.status, {**await r.json(), "_retry_after": r.headers.get("Retry-After")}


async def until(
    check: Callable[[], Awaitable[tuple[int, dict]]], ok: Callable[[int, dict], bool]
) -> tuple[int, dict]:
    deadline = time.monotonic() + 15
    while True:
        status, body = await check()
        if ok(status, body):
            return status, body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def test_everything_running_is_up(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any]
) -> None:
    status, body = await until(lambda: health(hub, admin), lambda s, b: b["state"] == "up")
    assert status == 200
    deps = body["dependencies"]
    assert {d: deps[d]["state"] for d in deps} == {
        "nats": "up",
        "postgres": "up",
        "redis": "up",
        "object_storage": "up",
    }
    assert deps["nats"]["details"]["server_version"].count(".") == 2
    assert deps["nats"]["details"]["max_storage_bytes"] != 0
    assert deps["postgres"]["details"]["server_version"]
    streams = {s["name"]: s for s in body["streams"]}
    assert streams["ACCOUNTS"]["messages"] > 0  # the admin's sign-up
    consumers = {c["name"] for c in streams["CONTENT"]["consumers"]}
    assert any(c.startswith("posts_b") for c in consumers)
    lags = {p["name"]: p for p in body["projections"]}
    assert lags["posts"]["state"] == "up" and lags["posts"]["events"] == 0
    assert all(m["state"] == "up" for m in body["modules"]), body["modules"]
    assert body["dead_letters"] == {}


async def test_a_stopped_read_model_is_degraded_with_its_growing_lag(
    platform: Platform,
    hub: aiohttp.ClientSession,
    admin: dict[str, Any],
    client: IdentityClient,
) -> None:
    await until(lambda: health(hub, admin), lambda s, b: b["state"] == "up")
    worker = next(w for w in platform.workers.projections if w.name == "posts")
    worker.stop()
    token = admin["access_token"]
    for n in range(MAX_EVENTS + 2):
        status, _, _ = await client.post("/v1/posts", {"body": f"while it is stopped {n}"}, token)
        assert status == 201
    status, body = await until(
        lambda: health(hub, admin),
        lambda s, b: {p["name"]: p for p in b["projections"]}["posts"]["events"] > MAX_EVENTS,
    )
    assert status == 200 and body["state"] == "degraded"  # degraded is not down
    lag = {p["name"]: p for p in body["projections"]}["posts"]
    assert lag["state"] == "degraded" and "events behind" in lag["reason"]
    module = {m["name"]: m for m in body["modules"]}["projection-posts"]
    assert module["state"] == "degraded"
    first = lag["seconds"]
    await asyncio.sleep(1.2)
    _, later = await health(hub, admin)
    assert {p["name"]: p for p in later["projections"]}["posts"]["seconds"] >= first + 1
    others = {p["name"]: p for p in later["projections"]}
    assert others["comments"]["state"] == "up"


async def test_postgresql_unreachable_is_down(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any], settings: Settings
) -> None:
    await until(lambda: health(hub, admin), lambda s, b: b["state"] == "up")
    database = settings.database_url.rsplit("/", 1)[1]
    admin_url = settings.database_url.rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )
        status, body = await until(lambda: health(hub, admin), lambda s, b: b["state"] == "down")
        assert status == 503 and body["_retry_after"]
        assert body["dependencies"]["postgres"]["state"] == "down"
        assert body["dependencies"]["postgres"]["reason"]
        assert body["dependencies"]["nats"]["state"] == "up"
    finally:
        await conn.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
        await conn.close()
    await until(
        lambda: health(hub, admin), lambda s, b: b["dependencies"]["postgres"]["state"] == "up"
    )
