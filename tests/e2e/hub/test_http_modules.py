"""A module that speaks only HTTP docks by registering with its module token, stays listed
while it heartbeats, and expires by itself (the bucket's per-key TTL) once it stops; a wrong
or another module's token changes nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core import embedded
from core.settings import Settings
from hub.registry import module_token
from tests.e2e.hub.conftest import bearer
from tests.support.platform import Platform

#: Short, so expiry is seen quickly; not so short that a loaded machine's first listing,
#: a moment after the registration, already finds it expired.
TTL = 2.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(hub_module_ttl_seconds=TTL)


def registration(name: str = "link-preview", instance: str = "run-1", port: int = 1) -> dict:
    return {
        "name": name,
        "version": "1.2.0",
        "base_url": f"http://127.0.0.1:{port}",
        "health_url": f"http://127.0.0.1:{port}/health",
        "instance": instance,
        "description": "Link previews",
        "metadata": {"language": "node"},
    }


async def register(hub: aiohttp.ClientSession, body: dict, token: str) -> tuple[int, Any]:
    async with hub.post(
        "/v1/hub/register", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as r:
        return r.status, await r.json(content_type=None)


async def listed(hub: aiohttp.ClientSession, admin: dict[str, Any], name: str) -> list[dict]:
    async with hub.get("/v1/hub/services", headers=bearer(admin)) as r:
        items = {m["name"]: m for m in (await r.json())["items"]}
    return items.get(name, {}).get("instances", [])


async def test_register_heartbeat_and_expire(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any]
) -> None:
    # A real health endpoint for the module, so the hub's health check has something to ask.
    async def healthy(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/health", healthy)
    runner = web.AppRunner(app)
    await runner.setup()
    port = embedded.free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        token = module_token(platform.infra.secret_key, "link-preview")
        status, body = await register(hub, registration(port=port), token)
        assert status == 200, body
        assert body["ttl_seconds"] == TTL and body["heartbeat_every_seconds"] < TTL
        (instance,) = await listed(hub, admin, "link-preview")
        assert instance["source"] == "http" and instance["version"] == "1.2.0"
        assert instance["metadata"] == {"language": "node"}
        first = instance["registered_at"] if "registered_at" in instance else instance["started"]
        # Heartbeats keep it for longer than one TTL, and keep its registration time.
        until = time.monotonic() + TTL * 2.5
        while time.monotonic() < until:
            status, _ = await register(hub, registration(port=port), token)
            assert status == 200
            await asyncio.sleep(TTL / 3)
        (instance,) = await listed(hub, admin, "link-preview")
        assert instance["started"] == first and instance["last_seen"] > first
        async with hub.get("/v1/hub/health", headers=bearer(admin)) as r:
            modules = {m["name"]: m for m in (await r.json())["modules"]}
        assert modules["link-preview"]["state"] == "up"
        # Silence: gone within the TTL (and the server's expiry sweep), with no sweeper of ours.
        deadline = time.monotonic() + TTL + 3
        while await listed(hub, admin, "link-preview"):
            assert time.monotonic() < deadline, "the registration did not expire"
            await asyncio.sleep(0.1)
    finally:
        await runner.cleanup()


async def test_tokens_belong_to_one_module(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any]
) -> None:
    other = module_token(platform.infra.secret_key, "someone-else")
    status, body = await register(hub, registration(), other)
    assert status == 403 and body["type"] == "quark:module-token-refused"
    async with hub.post("/v1/hub/register", json=registration()) as r:
        assert r.status == 401
    # A module cannot pose as one of the station's own, even with a token for that name.
    own = module_token(platform.infra.secret_key, "posts")
    status, _ = await register(hub, registration(name="posts"), own)
    assert status == 403
    assert await listed(hub, admin, "link-preview") == []


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Bad Name"},
        {"base_url": "ftp://x"},
        {"instance": "a.b"},
        {"unknown": 1},
        {"metadata": {"k": 1}},
    ],
)
async def test_a_bad_registration_is_a_validation_problem(
    platform: Platform, hub: aiohttp.ClientSession, change: dict
) -> None:
    token = module_token(platform.infra.secret_key, "link-preview")
    status, body = await register(hub, {**registration(), **change}, token)
    assert status == 422, body
    assert body["type"] == "quark:validation"


async def test_a_module_deregisters_when_it_stops(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any]
) -> None:
    token = module_token(platform.infra.secret_key, "link-preview")
    assert (await register(hub, registration(), token))[0] == 200
    assert len(await listed(hub, admin, "link-preview")) == 1
    async with hub.delete(
        "/v1/hub/register/link-preview/run-1", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 204
    assert await listed(hub, admin, "link-preview") == []
