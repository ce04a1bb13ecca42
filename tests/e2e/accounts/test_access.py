"""Ended sessions and changed roles take effect on the very next request, at every edge,
and survive a Redis that lost its data and an edge that restarted: they live in the log
(the ACCESS stream) and every edge holds a copy in memory."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest

from core import embedded
from core.bootstrap import open_infra
from core.settings import Settings
from edge.auth import ACCESS
from edge.routes import admin
from handlers import all_events
from station.runner import Workers
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.platform import Platform
from tests.support.processes import edge_process


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


async def get_status(base_url: str, path: str, token: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        return resp.status


async def restart_edge(platform: Platform) -> None:
    runner = platform.workers.site_runner
    assert runner is not None
    await runner.cleanup()
    platform.workers.site_runner = None
    platform.workers.urls.clear()
    await platform.workers.start_edge("127.0.0.1", platform.infra.settings.http_port)


async def test_an_ended_session_stays_refused_after_redis_is_wiped_and_the_edge_restarts(
    client: IdentityClient, platform: Platform, settings: Settings
) -> None:
    person = await client.sign_up()
    token = person["access_token"]
    assert await get_status(platform.base_url, "/v1/auth/sessions", token) == 200
    status, _, _ = await client.post("/v1/auth/logout", token=token)
    assert status == 204
    assert await get_status(platform.base_url, "/v1/auth/sessions", token) == 401
    redis = platform.infra.redis
    keys = [k async for k in redis.scan_iter(match=f"{settings.redis_prefix}*", count=1000)]
    assert keys  # the wipe below really removes something
    await redis.delete(*keys)
    await restart_edge(platform)
    assert await get_status(platform.base_url, "/v1/auth/sessions", token) == 401
    # A session that was not ended still works after the restart.
    other = await client.sign_up()
    assert await get_status(platform.base_url, "/v1/auth/sessions", other["access_token"]) == 200


async def test_a_session_ended_through_one_edge_is_refused_by_another_on_the_next_request(
    client: IdentityClient, platform: Platform, settings: Settings
) -> None:
    async with edge_process(settings) as second:
        for _ in range(5):
            person = await client.sign_up()
            token = person["access_token"]
            assert await get_status(second.base_url, "/v1/auth/sessions", token) == 200
            status, _, _ = await client.post("/v1/auth/logout", token=token)
            assert status == 204
            assert await get_status(second.base_url, "/v1/auth/sessions", token) == 401


async def admin_with_token(
    client: IdentityClient, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> dict[str, Any]:
    person = await client.sign_up()
    use_settings(monkeypatch, settings)
    assert await run_quark("admin", "grant", person["user_id"], "admin") == 0
    status, tokens, _ = await client.post(
        "/v1/auth/refresh", {"refresh_token": person["refresh_token"]}
    )
    assert status == 200
    return {**person, **tokens}


def admin_requests(target: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """One valid request for every route of the admin table (walked, not listed by hand,
    so a new admin route is covered the day it is added)."""
    bodies = {
        "/v1/admin/users/{user_id}/roles": {"role": "moderator", "reason": "r"},
        "/v1/admin/users/{user_id}/suspend": {"reason": "r"},
        "/v1/admin/users/{user_id}/unsuspend": {"reason": "r"},
        "/v1/admin/users/{user_id}/vip": {"until": "2099-01-01T00:00:00Z", "reason": "r"},
    }
    requests = []
    for route in admin.ROUTES:
        assert route.permission, f"{route.method} {route.path} declares no permission"
        path = route.path.replace("{user_id}", target).replace("{role}", "moderator")
        if route.method == "DELETE":
            path += "?reason=r"
        requests.append((route.method, path, bodies.get(route.path)))
    return requests


async def test_a_demoted_admin_s_old_token_is_refused_on_every_admin_route_at_once(
    client: IdentityClient, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    boss = await admin_with_token(client, monkeypatch, settings)
    demoted = await admin_with_token(client, monkeypatch, settings)
    target = await client.sign_up()
    old_token = demoted["access_token"]
    status, page = await client.call("GET", "/v1/admin/users", old_token)
    assert status == 200, page  # the token works as an admin's before the demotion
    status, revoked = await client.call(
        "DELETE",
        f"/v1/admin/users/{demoted['user_id']}/roles/admin?reason=demoted",
        boss["access_token"],
    )
    assert status == 200 and "admin" not in revoked["roles"], revoked
    for method, path, body in admin_requests(target["user_id"]):
        status, problem = await client.call(method, path, old_token, body)
        assert status == 403, (method, path, problem)
        assert problem["type"] == "quark:permission-denied"
    # The demoted admin could not give the role back to themself either.
    status, _ = await client.call(
        "POST",
        f"/v1/admin/users/{demoted['user_id']}/roles",
        old_token,
        {"role": "admin", "reason": "mine again"},
    )
    assert status == 403


async def test_a_role_change_reaches_another_edge_on_the_next_request(
    client: IdentityClient, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    boss = await admin_with_token(client, monkeypatch, settings)
    demoted = await admin_with_token(client, monkeypatch, settings)
    async with edge_process(settings) as second:
        assert await get_status(second.base_url, "/v1/admin/users", demoted["access_token"]) == 200
        status, _ = await client.call(
            "DELETE",
            f"/v1/admin/users/{demoted['user_id']}/roles/admin?reason=demoted",
            boss["access_token"],
        )
        assert status == 200
        assert await get_status(second.base_url, "/v1/admin/users", demoted["access_token"]) == 403


async def test_the_next_request_waits_for_a_revocation_the_edge_is_still_processing(
    client: IdentityClient, platform: Platform, settings: Settings
) -> None:
    """The barrier, made visible: this edge's copy applies messages slowly (as a busy
    process would), yet a token ended elsewhere is refused on its very next request."""
    port = embedded.free_port()
    async with AsyncExitStack() as stack:
        infra = await open_infra(settings, stack, all_events(), name="second-edge")
        workers = Workers(infra)
        await workers.start_edge("127.0.0.1", port)
        stack.push_async_callback(workers.stop)
        assert workers.site_runner is not None
        access = workers.site_runner.app[ACCESS]
        assert access._sub is not None
        applied = access._sub._cb

        async def slowly(msg: Any) -> None:
            await asyncio.sleep(0.3)  # the fault injected: a slow copy, not a wait in the test
            await applied(msg)

        access._sub._cb = slowly
        person = await client.sign_up()
        token = person["access_token"]
        second = f"http://127.0.0.1:{port}"
        assert await get_status(second, "/v1/auth/sessions", token) == 200
        status, _, _ = await client.post("/v1/auth/logout", token=token)
        assert status == 204
        assert await get_status(second, "/v1/auth/sessions", token) == 401
