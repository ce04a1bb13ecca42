"""The categories API as a client sees it: admins manage the list, everybody reads it."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from projections import categories as model
from tests.support.identity import IdentityClient, WithRole
from tests.support.log import stream_head
from tests.support.platform import Platform

TRAVEL = {
    "slug": "travel",
    "name_ru": "Путешествия",
    "name_en": "Travel",
    "position": 10,
    "description_en": "Trips, maps, stories",
}


async def send(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    **headers: str,
) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body, headers) of one request, with `token` as bearer if given."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with http.request(method, path, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None), dict(resp.headers)


async def create(http: aiohttp.ClientSession, token: str, **fields: Any) -> str:
    """Creates a category; its commit's position."""
    status, body, headers = await send(http, "POST", "/v1/admin/categories", token, fields)
    assert status == 201, body
    assert body == {"slug": fields["slug"]}
    assert headers["Location"] == f"/v1/categories/{fields['slug']}"
    return headers["Quark-Position"]


async def test_an_admin_creates_changes_deletes_and_creates_again(
    http: aiohttp.ClientSession, client: IdentityClient, with_role: WithRole, platform: Platform
) -> None:
    admin = await with_role("admin")
    token = admin["access_token"]
    position = await create(http, token, **TRAVEL)
    assert position.startswith("CONTENT:")

    # Anyone reads it, at the commit's position.
    status, page, _ = await send(http, "GET", "/v1/categories", **{"Quark-After": position})
    assert status == 200
    assert page == {
        "items": [{**TRAVEL, "description_ru": None}],
        "next_cursor": None,
    }
    status, one, _ = await send(http, "GET", "/v1/categories/travel", **{"Quark-After": position})
    assert status == 200 and one == {**TRAVEL, "description_ru": None}
    assert await model.exists(platform.infra.pool, "travel")
    assert not await model.exists(platform.infra.pool, "cooking")

    # A change touches only what it names; null removes a description.
    status, body, headers = await send(
        http,
        "PATCH",
        "/v1/admin/categories/travel",
        token,
        {"name_en": "Journeys", "description_ru": "Поездки", "description_en": None},
    )
    assert status == 200 and body == {"slug": "travel"}
    # The admin's own read sees the write without Quark-After (read-your-writes).
    status, one, _ = await send(http, "GET", "/v1/categories/travel", token)
    assert one == {
        **TRAVEL,
        "name_en": "Journeys",
        "description_ru": "Поездки",
        "description_en": None,
    }
    # Other read models of the CONTENT stream follow category commits too: the admin's
    # next read of posts does not wait in vain for a position it would never reach.
    status, _, _ = await send(http, "GET", "/v1/posts", token)
    assert status == 200

    # Deleted: gone for readers; changing or deleting it again is 404.
    status, _, headers = await send(http, "DELETE", "/v1/admin/categories/travel", token)
    assert status == 200
    deleted_at = headers["Quark-Position"]
    status, problem, _ = await send(
        http, "GET", "/v1/categories/travel", **{"Quark-After": deleted_at}
    )
    assert status == 404 and problem["type"] == "quark:category-not-found"
    status, page, _ = await send(http, "GET", "/v1/categories", **{"Quark-After": deleted_at})
    assert page["items"] == []
    assert not await model.exists(platform.infra.pool, "travel")
    for method, body in (("PATCH", {"position": 1}), ("DELETE", None)):
        status, problem, _ = await send(http, method, "/v1/admin/categories/travel", token, body)
        assert status == 404 and problem["type"] == "quark:category-not-found", method

    # The slug is free again: a fresh category, nothing left of the old one.
    again = {"slug": "travel", "name_ru": "Туризм", "name_en": "Tourism", "position": 2}
    position = await create(http, token, **again)
    status, one, _ = await send(http, "GET", "/v1/categories/travel", **{"Quark-After": position})
    assert one == {**again, "description_ru": None, "description_en": None}


async def test_a_duplicate_slug_is_a_conflict_and_appends_nothing(
    http: aiohttp.ClientSession, with_role: WithRole, platform: Platform
) -> None:
    token = (await with_role("admin"))["access_token"]
    await create(http, token, **TRAVEL)
    head = await stream_head(platform.infra, "CONTENT")
    status, problem, _ = await send(
        http, "POST", "/v1/admin/categories", token, {**TRAVEL, "name_en": "Other"}
    )
    assert status == 409 and problem["type"] == "quark:category-exists"
    assert await stream_head(platform.infra, "CONTENT") == head
    status, one, _ = await send(http, "GET", "/v1/categories/travel", token)
    assert one["name_en"] == "Travel"


async def test_a_retried_create_with_its_idempotency_key_is_answered_as_the_first(
    http: aiohttp.ClientSession, with_role: WithRole, platform: Platform
) -> None:
    token = (await with_role("admin"))["access_token"]
    key = {"Idempotency-Key": "create-travel-1"}
    first = await send(http, "POST", "/v1/admin/categories", token, TRAVEL, **key)
    head = await stream_head(platform.infra, "CONTENT")
    again = await send(http, "POST", "/v1/admin/categories", token, TRAVEL, **key)
    assert first[0] == again[0] == 201 and first[1] == again[1] == {"slug": "travel"}
    assert first[2]["Quark-Position"] == again[2]["Quark-Position"]
    assert await stream_head(platform.infra, "CONTENT") == head


async def test_the_list_is_ordered_by_position_then_slug(
    http: aiohttp.ClientSession, with_role: WithRole
) -> None:
    token = (await with_role("admin"))["access_token"]
    for slug, place in (("cooking", 2), ("art", 2), ("books", 1), ("zoo", 0), ("music", 10_000)):
        position = await create(
            http, token, slug=slug, name_ru=slug.upper(), name_en=slug.title(), position=place
        )
    status, page, _ = await send(http, "GET", "/v1/categories", **{"Quark-After": position})
    assert status == 200
    assert [c["slug"] for c in page["items"]] == ["zoo", "books", "art", "cooking", "music"]
    # Moving one moves it in the list.
    status, _, headers = await send(
        http, "PATCH", "/v1/admin/categories/music", token, {"position": 0}
    )
    assert status == 200
    status, page, _ = await send(
        http, "GET", "/v1/categories", **{"Quark-After": headers["Quark-Position"]}
    )
    assert [c["slug"] for c in page["items"]] == ["music", "zoo", "books", "art", "cooking"]


async def test_people_without_the_permission_are_refused_and_nothing_changes(
    http: aiohttp.ClientSession, client: IdentityClient, with_role: WithRole, platform: Platform
) -> None:
    admin_token = (await with_role("admin"))["access_token"]
    position = await create(http, admin_token, **TRAVEL)
    user = await client.sign_up()
    moderator = await with_role("moderator")
    head = await stream_head(platform.infra, "CONTENT")
    attempts = (
        ("POST", "/v1/admin/categories", {**TRAVEL, "slug": "mine"}),
        ("POST", "/v1/admin/categories", {"slug": "Not A Slug"}),  # refused before validation
        ("PATCH", "/v1/admin/categories/travel", {"name_en": "Hijacked"}),
        ("DELETE", "/v1/admin/categories/travel", None),
    )
    for person in (user, moderator):
        for method, path, body in attempts:
            status, problem, _ = await send(http, method, path, person["access_token"], body)
            assert status == 403, (method, path, problem)
            assert problem["type"] == "quark:permission-denied"
    for method, path, body in attempts:
        status, _, _ = await send(http, method, path, None, body)
        assert status == 401, (method, path)
    assert await stream_head(platform.infra, "CONTENT") == head
    status, page, _ = await send(http, "GET", "/v1/categories", **{"Quark-After": position})
    assert page["items"] == [{**TRAVEL, "description_ru": None}]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/admin/categories", {**TRAVEL, "slug": "Travel"}, "slug"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "slug": "-travel"}, "slug"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "slug": "t" * 41}, "slug"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "name_ru": ""}, "name_ru"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "name_ru": "   "}, "name_ru"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "name_en": "x" * 61}, "name_en"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "name_en": "a\nb"}, "name_en"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "name_en": "a\x00b"}, "name_en"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "position": -1}, "position"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "position": 10_001}, "position"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "position": "1"}, "position"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "description_ru": "d" * 301}, "description_ru"),
        ("POST", "/v1/admin/categories", {**TRAVEL, "colour": "red"}, "colour"),
        ("POST", "/v1/admin/categories", {"slug": "x", "name_ru": "X", "position": 1}, "name_en"),
        ("PATCH", "/v1/admin/categories/travel", {}, "$"),
        ("PATCH", "/v1/admin/categories/travel", {"position": None}, "position"),
        ("PATCH", "/v1/admin/categories/travel", {"name_ru": None}, "name_ru"),
        ("PATCH", "/v1/admin/categories/travel", {"name_en": " "}, "name_en"),
        ("PATCH", "/v1/admin/categories/travel", {"description_en": " "}, "description_en"),
        ("PATCH", "/v1/admin/categories/travel", {"slug": "other"}, "slug"),
    ],
)
async def test_invalid_input_is_422_naming_the_field_and_changes_nothing(
    http: aiohttp.ClientSession,
    with_role: WithRole,
    platform: Platform,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    token = (await with_role("admin"))["access_token"]
    position = await create(http, token, **TRAVEL)
    head = await stream_head(platform.infra, "CONTENT")
    status, problem, _ = await send(http, method, path, token, body)
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert await stream_head(platform.infra, "CONTENT") == head
    status, one, _ = await send(http, "GET", "/v1/categories/travel", **{"Quark-After": position})
    assert one == {**TRAVEL, "description_ru": None}


@pytest.mark.parametrize("slug", ["cooking", "Travel", "a" * 41, "trav%2Eel"])
async def test_a_category_that_does_not_exist_is_404(
    http: aiohttp.ClientSession, with_role: WithRole, slug: str
) -> None:
    token = (await with_role("admin"))["access_token"]
    for method, path, body in (
        ("GET", f"/v1/categories/{slug}", None),
        ("PATCH", f"/v1/admin/categories/{slug}", {"position": 1}),
        ("DELETE", f"/v1/admin/categories/{slug}", None),
    ):
        status, problem, _ = await send(http, method, path, token, body)
        assert status == 404, (method, path, problem)
        assert problem["type"] == "quark:category-not-found"
