"""The manager command against a running station: `quark scale`, `restart --rolling`,
`stop`/`start` carried out by the supervisor `quark up` runs (here beside the in-process
platform), with real child processes; and a hot deployment under load: while people post,
each kind of module is replaced (a handler, a read model, a worker, the edge) and no
acknowledged post is lost, none is applied twice, and nobody sees a 500."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from core.settings import Settings
from hub.registry import discover
from station.supervisor import Supervisor, allow_edge_handover
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Posting as fast as the platform allows is the point here, not the hourly quota.
    return settings.with_(perks_quota_scale=1000.0)


@pytest.fixture
async def supervisor(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Supervisor]:
    from station.control import ProcessControl

    control = ProcessControl(platform.infra.nc, platform.workers)
    await control.start()
    manager = Supervisor(platform.infra.nc, settings)
    await manager.start()
    use_settings(monkeypatch, settings)
    try:
        yield manager
    finally:
        await manager.stop()
        await control.stop()


async def instances(platform: Platform, module: str) -> list[Any]:
    return [i for i in await discover(platform.infra.nc) if i.module == module]


async def the_instance(platform: Platform, module: str, timeout: float = 10.0) -> Any:
    """The one instance of `module`, asked again until it answers: discovery stops listening
    0.15 s after the last answer, and a process busy serving a load may answer later than
    that (the dashboard and `quark status` show it at the next look)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await instances(platform, module)
        if len(found) == 1 or time.monotonic() > deadline:
            assert len(found) == 1, (module, found)
            return found[0]
        await asyncio.sleep(0.1)


async def test_scale_restart_stop_and_start(
    platform: Platform, supervisor: Supervisor, client: IdentityClient
) -> None:
    person = await client.sign_up()
    token = person["access_token"]
    (first,) = await instances(platform, "posts")
    assert await run_quark("scale", "posts", "2") == 0
    now = await instances(platform, "posts")
    assert len(now) == 2 and {i.pid for i in now} - {first.pid}
    for n in range(4):  # served by either instance (a queue group)
        status, _, _ = await client.post("/v1/posts", {"body": f"scaled {n}"}, token)
        assert status == 201
    assert await run_quark("restart", "posts", "--rolling") == 0
    after = await instances(platform, "posts")
    assert len(after) == 2 and not {i.id for i in after} & {i.id for i in now}
    assert await run_quark("scale", "posts", "1") == 0
    assert len(await instances(platform, "posts")) == 1

    assert await run_quark("stop", "projection-posts") == 0
    assert await instances(platform, "projection-posts") == []
    status, post, _ = await client.post("/v1/posts", {"body": "while stopped"}, token)
    assert status == 201
    assert await run_quark("start", "projection-posts") == 0
    (projection,) = await instances(platform, "projection-posts")
    assert projection.process != first.process  # a process of its own now
    await platform.wait("posts", post["position"], timeout=20)
    assert await run_quark("status") == 0
    assert await run_quark("scale", "nothing", "2") == 1
    assert await run_quark("restart", "hub") == 1


async def test_hot_deployment_under_load(
    platform: Platform,
    supervisor: Supervisor,
    client: IdentityClient,
    settings: Settings,
) -> None:
    """Every kind of module replaced while commands flow: clients see 201, or 503 with
    Retry-After, never a 500 nor a dropped connection; every acknowledged post is in the log
    once and in the read model once."""
    assert allow_edge_handover(), "rolling the edge needs net.ipv4.tcp_migrate_req (root)"
    people = [await client.sign_up() for _ in range(3)]
    acknowledged: list[str] = []
    seen: Counter[int] = Counter()
    stop = asyncio.Event()

    async def load(token: str, n: int) -> None:
        async with aiohttp.ClientSession(base_url=platform.base_url) as http:
            i = 0
            while not stop.is_set():
                i += 1
                async with http.post(
                    "/v1/posts",
                    json={"body": f"load {n}-{i}"},
                    headers={"Authorization": f"Bearer {token}"},
                ) as r:
                    seen[r.status] += 1
                    if r.status == 201:
                        acknowledged.append((await r.json())["id"])
                    elif r.status == 503:
                        assert r.headers.get("Retry-After"), await r.text()
                        await asyncio.sleep(0.05)
                    else:
                        raise AssertionError(f"{r.status}: {await r.text()}")

    # The platform's own process (this one), which the replaced modules must have left.
    home = await the_instance(platform, "accounts")
    loaders = [asyncio.create_task(load(p["access_token"], n)) for n, p in enumerate(people)]
    try:
        await asyncio.sleep(0.5)
        for module in ("posts", "projection-posts", "media-worker", "edge"):
            before = len(acknowledged)
            assert await run_quark("restart", module, "--rolling") == 0, module
            instance = await the_instance(platform, module)
            assert instance.process != home.process
            # Traffic went on during the replacement.
            deadline = time.monotonic() + 10
            while len(acknowledged) < before + 5:
                done = [t.exception() for t in loaders if t.done()]
                assert time.monotonic() < deadline, (module, seen, done)
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        results = await asyncio.gather(*loaders, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert set(seen) <= {201, 503}, seen
    assert len(acknowledged) == len(set(acknowledged)) and seen[201] == len(acknowledged)
    # Every acknowledged post is in the read model exactly once.
    await platform.wait("posts", await head_position(platform.infra, "CONTENT"), timeout=30)
    rows = await platform.infra.pool.fetch(
        "SELECT id::text AS id FROM posts.posts WHERE id = ANY($1::uuid[])", acknowledged
    )
    assert len(rows) == len(acknowledged) == len({r["id"] for r in rows})
