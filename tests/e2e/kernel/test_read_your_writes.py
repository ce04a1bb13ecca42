"""Read-your-writes without asking: once a person's command is acknowledged, their next read
reflects it — through another edge process, with no `Quark-After` header — even while the
read models lag behind (the lag is injected: every read model applies its batches late)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest

from core.envelope import RecordedEvent
from core.projection import PgProjection
from core.settings import Settings
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.platform import Platform
from tests.support.processes import WorkerProcess, edge_process

#: How late every PostgreSQL read model applies a batch: far longer than the round trip from
#: an answer to the next request, far shorter than the read wait timeout.
LAG_SECONDS = 0.3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


@pytest.fixture
def lagging_read_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every PostgreSQL read model applies its batches LAG_SECONDS late (a busy database)."""
    for projection in PgProjection.__subclasses__():
        original = projection.apply

        async def late(
            self: Any, conn: Any, events: Sequence[RecordedEvent], original: Any = original
        ) -> None:
            await asyncio.sleep(LAG_SECONDS)  # the injected fault, not a wait in the test
            await original(self, conn, events)

        monkeypatch.setattr(projection, "apply", late)


@pytest.fixture
async def other_edge(
    settings: Settings, platform: Platform, lagging_read_models: None
) -> AsyncIterator[WorkerProcess]:
    async with edge_process(settings) as edge:
        yield edge


async def read(edge: WorkerProcess, path: str, token: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{edge.base_url}{path}", headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def write(
    client: IdentityClient, method: str, path: str, token: str, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with client.http.request(method, path, json=body, headers=headers) as resp:
        answer = await resp.json(content_type=None)
        assert resp.status < 300, answer
        assert resp.headers["Quark-Position"], "a command answers its position"
        return answer


async def test_a_new_sign_in_is_in_the_session_list_read_through_another_edge(
    client: IdentityClient, other_edge: WorkerProcess
) -> None:
    person = await client.sign_up()
    for _ in range(3):
        status, signed_in = await client.log_in(person["phone"])
        assert status == 200 and signed_in["position"].startswith("ACCOUNTS:")
        status, sessions = await read(other_edge, "/v1/auth/sessions", signed_in["access_token"])
        assert status == 200, sessions
        current = [s["id"] for s in sessions["items"] if s["current"]]
        assert current == [signed_in["session_id"]]


async def test_a_published_post_is_in_my_list_read_through_another_edge(
    client: IdentityClient, other_edge: WorkerProcess
) -> None:
    person = await client.sign_up()
    token = person["access_token"]
    for i in range(3):
        created = await write(client, "POST", "/v1/posts", token, {"title": f"t{i}", "body": "b"})
        status, page = await read(other_edge, f"/v1/posts?author={person['user_id']}", token)
        assert status == 200
        assert page["items"][0]["id"] == created["id"]


async def test_an_edited_profile_shows_in_my_profile_read_through_another_edge(
    client: IdentityClient, other_edge: WorkerProcess
) -> None:
    person = await client.sign_up()
    token = person["access_token"]
    for i in range(3):
        await write(client, "PATCH", "/v1/me", token, {"bio": f"version {i}"})
        status, me = await read(other_edge, "/v1/me", token)
        assert status == 200, me
        assert me["bio"] == f"version {i}"


async def test_a_follow_is_in_my_following_list_read_through_another_edge(
    client: IdentityClient, other_edge: WorkerProcess, platform: Platform
) -> None:
    me = await client.sign_up()
    token = me["access_token"]
    my_handle = f"me_{secrets.token_hex(4)}"
    await write(client, "PATCH", "/v1/me", token, {"handle": my_handle})
    for i in range(2):
        other = await client.sign_up(name=f"Other {i}")
        handle = f"other_{secrets.token_hex(4)}"
        changed = await write(client, "PATCH", "/v1/me", other["access_token"], {"handle": handle})
        # Someone else's new handle is not my write: wait for it as any client would.
        await platform.wait("profiles", changed["position"])
        await write(client, "POST", f"/v1/users/{handle}/follow", token)
        status, page = await read(other_edge, f"/v1/users/{my_handle}/following", token)
        assert status == 200, page
        assert page["items"][0]["id"] == other["user_id"]


async def test_reads_of_other_people_do_not_wait_for_my_writes(
    client: IdentityClient, other_edge: WorkerProcess
) -> None:
    """Anonymous reads wait for nothing (nor for anybody's writes)."""
    person = await client.sign_up()
    created = await write(
        client, "POST", "/v1/posts", person["access_token"], {"title": "t", "body": "b"}
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{other_edge.base_url}/v1/posts?author={person['user_id']}") as resp,
    ):
        assert resp.status == 200
        page = await resp.json()
    # The lagging read model has not applied it yet, and an anonymous read does not wait.
    assert created["id"] not in [p["id"] for p in page["items"]]
