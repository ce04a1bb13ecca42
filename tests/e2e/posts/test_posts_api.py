"""The posts API as a client sees it: HTTP in, JSON and problem documents out."""

from __future__ import annotations

import aiohttp
import pytest

from core.ids import new_id
from tests.support.auth import as_user
from tests.support.log import stream_head
from tests.support.platform import Platform

ALICE = new_id()
BOB = new_id()


pytestmark = pytest.mark.usefixtures("signed_in")


async def create(
    http: aiohttp.ClientSession, title: str = "Hello", body: str = "World", user: str = ALICE
) -> dict:
    async with http.post(
        "/v1/posts", json={"title": title, "body": body}, headers=as_user(user)
    ) as resp:
        assert resp.status == 201, await resp.text()
        data = await resp.json()
        assert resp.headers["Quark-Position"] == data["position"]
        assert resp.headers["Location"] == f"/v1/posts/{data['id']}"
        return data


async def test_a_published_post_can_be_read_back_at_its_position(
    http: aiohttp.ClientSession,
) -> None:
    created = await create(http, "First post", "Some text")
    async with http.get(
        f"/v1/posts/{created['id']}", headers={"Quark-After": created["position"]}
    ) as resp:
        assert resp.status == 200
        post = await resp.json()
    assert post["title"] == "First post" and post["body"] == "Some text"
    assert post["author_id"] == ALICE and post["edited_at"] is None
    assert post["published_at"].endswith("Z")


async def test_the_author_edits_and_deletes_a_post(http: aiohttp.ClientSession) -> None:
    created = await create(http)
    async with http.patch(
        f"/v1/posts/{created['id']}", json={"body": "Changed"}, headers=as_user(ALICE)
    ) as resp:
        assert resp.status == 200
        edited = await resp.json()
    async with http.get(
        f"/v1/posts/{created['id']}", headers={"Quark-After": edited["position"]}
    ) as resp:
        post = await resp.json()
    assert (post["title"], post["body"]) == ("Hello", "Changed") and post["edited_at"]
    async with http.delete(f"/v1/posts/{created['id']}", headers=as_user(ALICE)) as resp:
        assert resp.status == 200
        deleted = await resp.json()
    async with http.get(
        f"/v1/posts/{created['id']}", headers={"Quark-After": deleted["position"]}
    ) as resp:
        # A tombstone: gone, not unknown.
        assert resp.status == 410
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["type"] == "quark:post-deleted"
    async with http.get("/v1/posts", headers={"Quark-After": deleted["position"]}) as resp:
        assert created["id"] not in [p["id"] for p in (await resp.json())["items"]]


async def test_someone_else_cannot_edit_or_delete_a_post(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    created = await create(http)
    before = await stream_head(platform.infra, "CONTENT")
    async with http.patch(
        f"/v1/posts/{created['id']}", json={"title": "mine now"}, headers=as_user(BOB)
    ) as resp:
        assert resp.status == 403
        assert (await resp.json())["type"] == "quark:not-post-author"
    async with http.delete(f"/v1/posts/{created['id']}", headers=as_user(BOB)) as resp:
        assert resp.status == 403
    assert await stream_head(platform.infra, "CONTENT") == before


async def test_commands_without_a_user_are_unauthenticated(http: aiohttp.ClientSession) -> None:
    async with http.post("/v1/posts", json={"title": "a", "body": "b"}) as resp:
        assert resp.status == 401
        assert resp.content_type == "application/problem+json"
    async with http.post(
        "/v1/posts", json={"title": "a", "body": "b"}, headers={"Authorization": "Bearer x.y.z"}
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["type"] == "quark:invalid-token"


async def test_listing_pages_newest_first_without_skipping_or_repeating(
    http: aiohttp.ClientSession,
) -> None:
    carol = new_id()
    created = [await create(http, f"post {i}", user=carol) for i in range(7)]
    expected = [c["id"] for c in reversed(created)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"author": carol, "limit": "3"}
        if cursor:
            params["cursor"] = cursor
        async with http.get(
            "/v1/posts", params=params, headers={"Quark-After": created[-1]["position"]}
        ) as resp:
            assert resp.status == 200, await resp.text()
            page = await resp.json()
        pages += 1
        seen += [p["id"] for p in page["items"]]
        if pages == 1:
            # A post published while paging must not shift the following pages.
            await create(http, "late", user=carol)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 3


async def test_a_tampered_cursor_is_rejected(http: aiohttp.ClientSession) -> None:
    created = [await create(http) for _ in range(2)]
    async with http.get(
        "/v1/posts", params={"limit": "1"}, headers={"Quark-After": created[-1]["position"]}
    ) as resp:
        cursor = (await resp.json())["next_cursor"]
    assert cursor
    for bad in (cursor[:-3] + "AAA", "nonsense", cursor[:10]):
        async with http.get("/v1/posts", params={"limit": "1", "cursor": bad}) as resp:
            assert resp.status == 400
            assert (await resp.json())["type"] == "quark:bad-cursor"
    async with http.get(
        "/v1/posts", params={"limit": "1", "cursor": cursor, "author": ALICE}
    ) as resp:
        assert resp.status == 400  # a cursor of another list


@pytest.mark.parametrize(
    ("body", "content_type", "status", "problem"),
    [
        (b'{"title": "a", "body": ', "application/json", 400, "quark:malformed-json"),
        (b'{"title": "a", "body": "b", "extra": 1}', "application/json", 422, "quark:validation"),
        (b'{"title": 5, "body": "b"}', "application/json", 422, "quark:validation"),
        (b'{"title": "a"}', "application/json", 422, "quark:validation"),
        (b'{"title": "", "body": "b"}', "application/json", 422, "quark:validation"),
        (b'{"title": "   ", "body": "b"}', "application/json", 422, "quark:empty-post"),
        (b'["title", "body"]', "application/json", 422, "quark:validation"),
        (b'{"title": "a", "body": "b"}', "text/plain", 415, "quark:unsupported-media-type"),
        (
            b'{"title": "a", "body": "' + b"x" * 70_000 + b'"}',
            "application/json",
            413,
            "quark:body-too-large",
        ),
    ],
)
async def test_bad_input_gets_a_problem_and_changes_nothing(
    http: aiohttp.ClientSession,
    platform: Platform,
    body: bytes,
    content_type: str,
    status: int,
    problem: str,
) -> None:
    before = await stream_head(platform.infra, "CONTENT")
    async with http.post(
        "/v1/posts", data=body, headers=as_user(ALICE, **{"Content-Type": content_type})
    ) as resp:
        assert resp.status == status, await resp.text()
        assert resp.content_type == "application/problem+json"
        doc = await resp.json()
    assert doc["type"] == problem and doc["status"] == status and doc["title"]
    assert "Traceback" not in str(doc)
    assert await stream_head(platform.infra, "CONTENT") == before


async def test_validation_problems_name_the_field(http: aiohttp.ClientSession) -> None:
    async with http.post(
        "/v1/posts", json={"title": "a", "body": "b", "colour": "red"}, headers=as_user(ALICE)
    ) as resp:
        doc = await resp.json()
    assert doc["errors"][0]["field"] == "colour"
    async with http.post(
        "/v1/posts", json={"title": "a" * 201, "body": "b"}, headers=as_user(ALICE)
    ) as resp:
        doc = await resp.json()
    assert resp.status == 422 and doc["errors"][0]["field"] == "title"


async def test_an_edit_must_change_something_and_only_the_title_can_be_removed(
    http: aiohttp.ClientSession,
) -> None:
    created = await create(http)
    async with http.patch(
        f"/v1/posts/{created['id']}", json={"title": None}, headers=as_user(ALICE)
    ) as resp:
        assert resp.status == 200  # titles are optional: null removes it
        removed = await resp.json()
    async with http.get(
        f"/v1/posts/{created['id']}", headers={"Quark-After": removed["position"]}
    ) as resp:
        assert (await resp.json())["title"] is None
    for body in ({}, {"body": None, "title": "x"}, {"visibility": "friends"}):
        async with http.patch(
            f"/v1/posts/{created['id']}", json=body, headers=as_user(ALICE)
        ) as resp:
            assert resp.status == 422, body
            assert resp.content_type == "application/problem+json"
    async with http.get(f"/v1/posts/{created['id']}", headers={"Quark-After": ""}) as resp:
        assert resp.status == 422  # present but empty is malformed, not absent


async def test_positions_of_unknown_or_unrelated_streams(http: aiohttp.ClientSession) -> None:
    missing_post, author = f"/v1/posts/{new_id()}", f"/v1/authors/{new_id()}/stats"
    for path in (missing_post, author):
        async with http.get(path, headers={"Quark-After": "NOSUCH:1"}) as resp:
            assert resp.status == 422, path
            assert (await resp.json())["type"] == "quark:validation", path
    # A stream the read model does not read: nothing to wait for, answered at once (a wait
    # would end in 503 position-not-reached, CHAT being far from 999999) with the answer
    # the read model gives without any position.
    async with http.get(missing_post, headers={"Quark-After": "CHAT:999999"}) as resp:
        assert resp.status == 404
        assert (await resp.json())["type"] == "quark:post-not-found"
    async with http.get(author, headers={"Quark-After": "CHAT:999999"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["posts"] == 0


async def test_bad_query_and_path_values_are_problems(http: aiohttp.ClientSession) -> None:
    for params in (
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "x"},
        {"author": "x"},
        {"before": "yesterday"},
        {"sort": "up"},
    ):
        async with http.get("/v1/posts", params=params) as resp:
            assert resp.status == 422, params
            assert resp.content_type == "application/problem+json"
    async with http.get("/v1/posts/not-an-id") as resp:
        assert resp.status == 404
    async with http.get(f"/v1/posts/{new_id()}", headers={"Quark-After": "garbage"}) as resp:
        assert resp.status == 422
    async with http.get("/v1/nothing-here") as resp:
        assert resp.status == 404 and resp.content_type == "application/problem+json"
    async with http.put("/v1/posts") as resp:
        assert resp.status == 405 and resp.content_type == "application/problem+json"


async def test_an_idempotency_key_replays_the_first_answer(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    headers = as_user(ALICE, **{"Idempotency-Key": "k-1"})
    async with http.post("/v1/posts", json={"title": "once", "body": "b"}, headers=headers) as resp:
        assert resp.status == 201
        first = await resp.json()
    after_first = await stream_head(platform.infra, "CONTENT")
    async with http.post("/v1/posts", json={"title": "once", "body": "b"}, headers=headers) as resp:
        assert resp.status == 201
        assert resp.headers["Idempotent-Replayed"] == "true"
        assert await resp.json() == first
    assert await stream_head(platform.infra, "CONTENT") == after_first
    async with http.post(
        "/v1/posts", json={"title": "different", "body": "b"}, headers=headers
    ) as resp:
        assert resp.status == 422
        assert (await resp.json())["type"] == "quark:idempotency-key-reused"
    # The key is per user: Bob's k-1 is a different request.
    async with http.post(
        "/v1/posts",
        json={"title": "once", "body": "b"},
        headers=as_user(BOB, **{"Idempotency-Key": "k-1"}),
    ) as resp:
        assert resp.status == 201
        assert (await resp.json())["id"] != first["id"]


async def test_read_your_writes_times_out_with_503_for_a_position_not_reached(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get(f"/v1/posts/{new_id()}", headers={"Quark-After": "CONTENT:999999"}) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"]
        assert (await resp.json())["type"] == "quark:position-not-reached"


async def test_openapi_describes_every_route_from_the_code(http: aiohttp.ClientSession) -> None:
    async with http.get("/openapi.json") as resp:
        spec = await resp.json()
    assert spec["openapi"] == "3.1.0"
    assert {"/v1/posts", "/v1/posts/{post_id}", "/healthz", "/readyz"} <= set(spec["paths"])
    publish = spec["paths"]["/v1/posts"]["post"]
    schema = spec["components"]["schemas"]["PublishPostBody"]
    title = schema["properties"]["title"]["anyOf"]  # a string of at most 200, or null
    assert {"type": "null"} in title and any(t.get("maxLength") == 200 for t in title)
    assert schema["required"] == ["body"]
    assert schema["additionalProperties"] is False
    assert "201" in publish["responses"] and "422" in publish["responses"]


async def test_health_readiness_and_metrics(http: aiohttp.ClientSession) -> None:
    async with http.get("/healthz") as resp:
        assert resp.status == 200
    async with http.get("/readyz") as resp:
        body = await resp.json()
        assert resp.status == 200 and body["checks"] == {
            "nats": "ok",
            "postgres": "ok",
            "redis": "ok",
            "access": "ok",
        }
    await create(http)
    async with http.get("/metrics") as resp:
        text = await resp.text()
    assert "quark_commands_total" in text and "quark_projection_position" in text
    assert 'quark_http_requests_total{method="POST",route="/v1/posts",status="201"}' in text


async def test_reads_that_gave_up_waiting_leave_no_waiter_behind(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    from edge.context import POSITIONS

    async with http.get(f"/v1/posts/{new_id()}", headers={"Quark-After": "CONTENT:999999"}) as resp:
        assert resp.status == 503
    app = platform.workers.site_runner.app if platform.workers.site_runner else None
    assert app is not None
    assert all(not waiters for waiters in app[POSITIONS]._waiters.values())
