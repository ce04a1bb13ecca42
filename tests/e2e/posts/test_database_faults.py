"""PostgreSQL connections terminated under the edge's feet (a failover, an operator's
`pg_terminate_backend`): reads answer 503 with Retry-After or succeed, never 500 — asyncpg
raises several connection-level errors then (`ConnectionDoesNotExistError`,
`InterfaceError`, `InternalClientError` "another operation is in progress"), and each is a
dependency failure, not a bug of the request."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import pytest

from core.settings import Settings
from tests.support.auth import as_user
from tests.support.platform import Platform

pytestmark = pytest.mark.usefixtures("signed_in")

AUTHOR = "0190a5c0-0000-7000-8000-00000000beef"


async def terminate_backends(admin_url: str, database: str) -> int:
    """Ends every other connection to `database`, as an operator or a failover would."""
    conn = await asyncpg.connect(admin_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        )
    finally:
        await conn.close()


async def test_reads_while_connections_are_terminated_answer_503_or_200_never_500(
    http: aiohttp.ClientSession, platform: Platform, settings: Settings, pg_admin_url: str
) -> None:
    async with http.post(
        "/v1/posts", json={"title": "t", "body": "b"}, headers=as_user(AUTHOR)
    ) as resp:
        assert resp.status == 201
        created = await resp.json()
    await platform.wait("posts", created["position"])
    database = settings.database_url.rsplit("/", 1)[-1]
    statuses: list[int] = []
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            async with http.get("/v1/posts", params={"author": AUTHOR}) as resp:
                statuses.append(resp.status)
                if resp.status == 503:
                    assert resp.headers["Retry-After"]
                    assert resp.content_type == "application/problem+json"

    readers = [asyncio.create_task(reader()) for _ in range(8)]
    terminated = 0
    try:
        for _ in range(10):
            terminated += await terminate_backends(pg_admin_url, database)
            await asyncio.sleep(0.05)  # the faults' rhythm: reads run in between
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert terminated > 0
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert 200 in statuses
    # Once the faults stop, the pool heals: a read succeeds again within a few tries.
    healed = []
    for _ in range(20):
        async with http.get("/v1/posts", params={"author": AUTHOR}) as resp:
            healed.append(resp.status)
            if resp.status == 200:
                break
    assert healed[-1] == 200, healed
