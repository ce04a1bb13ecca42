"""What an operator follows and repairs from the hub: one request's log lines across the
edge and the handler that refused its command (by correlation id), and a read model's dead
letter — shown with its event and error, and applied again once the fault is fixed."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import pytest

from projections.posts import PostsProjection
from tests.e2e.hub.conftest import bearer
from tests.support.identity import IdentityClient, WithRole
from tests.support.platform import Platform


async def test_one_request_followed_across_modules(
    platform: Platform,
    hub: aiohttp.ClientSession,
    admin: dict[str, Any],
    http: aiohttp.ClientSession,
) -> None:
    correlation = str(uuid.uuid4())
    async with http.patch(
        f"/v1/posts/{uuid.uuid4()}",
        json={"body": "edited"},
        headers={**bearer(admin), "X-Correlation-Id": correlation},
    ) as r:
        assert r.status == 404
    deadline = time.monotonic() + 10
    while True:
        async with hub.get(
            "/v1/hub/logs", params={"correlation_id": correlation}, headers=bearer(admin)
        ) as r:
            assert r.status == 200
            lines = (await r.json())["items"]
        modules = {line["module"] for line in lines}
        if {"edge", "posts"} <= modules:
            break
        assert time.monotonic() < deadline, lines
        await asyncio.sleep(0.1)
    assert all(line["correlation_id"] == correlation for line in lines)
    assert {"request_refused", "command_refused"} <= {line["event"] for line in lines}
    async with hub.get(
        "/v1/hub/logs", params={"module": "posts", "level": "warning"}, headers=bearer(admin)
    ) as r:
        assert all(line["level"] in ("warning", "error") for line in (await r.json())["items"])
    async with hub.get("/v1/hub/logs", params={"level": "loud"}, headers=bearer(admin)) as r:
        assert r.status == 422


async def test_a_dead_letter_is_shown_and_applied_again_once_fixed(
    platform: Platform,
    hub: aiohttp.ClientSession,
    admin: dict[str, Any],
    client: IdentityClient,
    with_role: WithRole,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = {"on": True}
    apply = PostsProjection.apply

    async def faulty(self: PostsProjection, conn: Any, events: Any) -> None:
        if broken["on"] and any(getattr(e.event, "body", "") == "poison" for e in events):
            raise RuntimeError("a bug in the posts read model")
        await apply(self, conn, events)

    monkeypatch.setattr(PostsProjection, "apply", faulty)
    status, post, _ = await client.post("/v1/posts", {"body": "poison"}, admin["access_token"])
    assert status == 201
    js = platform.infra.nc.jetstream()
    deadline = time.monotonic() + 30
    while (await js.stream_info("DLQ")).state.messages == 0:
        assert time.monotonic() < deadline, "the event never reached the dead-letter queue"
        await asyncio.sleep(0.1)
    async with hub.get("/v1/hub/dead-letters", headers=bearer(admin)) as r:
        (letter,) = (await r.json())["items"]
    assert letter["projection"] == "posts" and letter["stream"] == "CONTENT"
    assert "posts.PostPublished" in letter["events"]
    assert "a bug in the posts read model" in letter["error"]
    async with client.http.get(f"/v1/posts/{post['id']}") as r:
        assert r.status == 404  # the read model skipped it

    moderator = await with_role("moderator")
    async with hub.post(
        f"/v1/hub/dead-letters/{letter['seq']}/retry", headers=bearer(moderator)
    ) as r:
        assert r.status == 403
    # Still broken: the retry fails and the letter stays.
    async with hub.post(f"/v1/hub/dead-letters/{letter['seq']}/retry", headers=bearer(admin)) as r:
        assert r.status == 409, await r.text()
    assert (await js.stream_info("DLQ")).state.messages == 1
    broken["on"] = False  # the fix is deployed
    async with hub.post(f"/v1/hub/dead-letters/{letter['seq']}/retry", headers=bearer(admin)) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["applied"] == 1
    assert (await js.stream_info("DLQ")).state.messages == 0
    async with client.http.get(f"/v1/posts/{post['id']}") as r:
        assert r.status == 200
        assert (await r.json())["body"] == "poison"
    async with hub.post(f"/v1/hub/dead-letters/{letter['seq']}/retry", headers=bearer(admin)) as r:
        assert r.status == 404
