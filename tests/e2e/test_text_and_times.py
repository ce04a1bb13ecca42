"""Text and times that PostgreSQL cannot store: each is refused with 422 naming its field,
instead of a 500 (query strings) or an event that every projection storing it sends to the
dead-letter queue after the command was answered 200 (bodies)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from core.ids import new_id
from core.settings import Settings
from tests.support.auth import Tokens
from tests.support.deadletters import assert_nothing_dead_lettered
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.platform import Platform


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


async def problem(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    assert resp.status == 422, await resp.text()
    return await resp.json()


async def test_a_nul_in_a_search_or_a_filter_is_422_not_a_database_error(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens
) -> None:
    admin = tokens.headers(new_id(), roles=("admin",))
    for path, params in (
        ("/v1/users", {"query": "a\x00b"}),
        ("/v1/admin/users", {"query": "a\x00b"}),
        ("/v1/admin/users", {"role": "a\x00b"}),
        (f"/v1/admin/users/{new_id()}/roles/moderator", {"reason": "a\x00b"}),
    ):
        method = "DELETE" if "reason" in params else "GET"
        async with http.request(method, path, params=params, headers=admin) as resp:
            assert (await problem(resp))["errors"][0]["field"] == next(iter(params)), path


async def test_a_post_with_a_nul_is_refused_not_dead_lettered(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens
) -> None:
    author = tokens.headers(new_id())
    for body, field in (
        ({"title": "Hello\x00", "body": "text"}, "title"),
        ({"title": "Hello", "body": "te\x00xt"}, "body"),
        ({"title": "Hel\x07lo", "body": "text"}, "title"),
    ):
        async with http.post("/v1/posts", json=body, headers=author) as resp:
            assert (await problem(resp))["errors"][0]["field"] == field
    # Tabs and newlines are text a body may hold.
    text = {"title": "Hello", "body": "line\n\tindented\r\n"}
    async with http.post("/v1/posts", json=text, headers=author) as resp:
        assert resp.status == 201
    await assert_nothing_dead_lettered(platform)


async def test_an_admin_reason_with_a_nul_is_refused_not_dead_lettered(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens, settings: Settings
) -> None:
    person = await IdentityClient(http, settings.data_dir / "sms-outbox.jsonl").sign_up()
    admin = tokens.headers(new_id(), roles=("admin",))
    user = f"/v1/admin/users/{person['user_id']}"
    for path, body in (
        (f"{user}/suspend", {"reason": "a\x00b"}),
        (f"{user}/roles", {"role": "moderator", "reason": "a\x00b"}),
        (f"{user}/vip", {"until": "2099-01-01T00:00:00Z", "reason": "a\x00b"}),
    ):
        async with http.post(path, json=body, headers=admin) as resp:
            assert (await problem(resp))["errors"][0]["field"] == "reason", path
    await assert_nothing_dead_lettered(platform)


async def test_times_beyond_what_utc_can_hold_are_422(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens, settings: Settings
) -> None:
    # Both are valid RFC 3339, and both leave years 1-9999 once converted to UTC.
    for before in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        async with http.get("/v1/posts", params={"before": before}) as resp:
            assert (await problem(resp))["errors"][0]["field"] == "before"
    person = await IdentityClient(http, settings.data_dir / "sms-outbox.jsonl").sign_up()
    admin = tokens.headers(new_id(), roles=("admin",))
    vip = {"until": "9999-12-31T23:59:59-23:59", "reason": "thanks"}
    async with http.post(
        f"/v1/admin/users/{person['user_id']}/vip", json=vip, headers=admin
    ) as resp:
        assert (await problem(resp))["errors"][0]["field"] == "until"
    # An offset is fine within range: the grant is kept in UTC.
    vip = {"until": "2099-01-01T00:00:00-05:00", "reason": "thanks"}
    async with http.post(
        f"/v1/admin/users/{person['user_id']}/vip", json=vip, headers=admin
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["vip_until"] == "2099-01-01T05:00:00Z"
    await assert_nothing_dead_lettered(platform)
