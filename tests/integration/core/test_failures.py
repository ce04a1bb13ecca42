"""Failure: NATS going away under the edge, NATS killed outright right after acknowledging
commits, and SIGTERM while commands are in flight.

They run against servers of their own (this file starts its own nats-server) so stopping
one does not disturb other tests.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import nats
import pytest

from core import embedded, embedded_nats
from core import streams as streams_mod
from core.bootstrap import open_infra, secret_key
from core.envelope import AggregateRef, utc_now
from core.errors import UnavailableError
from core.eventstore import EventStore
from core.ids import new_id
from core.registry import EventRegistry
from core.settings import Settings
from handlers import all_events
from handlers.posts.decide import POST
from handlers.posts.events import PostPublished
from tests.conftest import ROOT, reset_streams
from tests.support.auth import Tokens
from tests.support.log import head_position, stream_head
from tests.support.platform import Platform

AUTHOR = new_id()
#: Filled with a real bearer token once each test has its NATS (the key ring lives there).
HEADERS: dict[str, str] = {}


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[embedded.ManagedServer]:
    server = embedded_nats.start_nats(tmp_path / "own-nats")
    yield server
    server.stop()


@pytest.fixture
async def own_settings(settings: Settings, own_nats: embedded.ManagedServer) -> Settings:
    await reset_streams(own_nats.url, streams_mod.load(ROOT / "streams.yaml"))
    return settings.with_(nats_url=own_nats.url, command_timeout=1.0, read_wait_timeout=1.0)


async def post(http: aiohttp.ClientSession, title: str) -> tuple[int, dict]:
    async with http.post("/v1/posts", json={"title": title, "body": "b"}, headers=HEADERS) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_with_nats_down_commands_get_503_and_acknowledged_work_survives(
    own_settings: Settings, own_nats: embedded.ManagedServer, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        infra = await open_infra(own_settings, stack, all_events(), name="failure-test")
        HEADERS.update((await Tokens.open(infra)).headers(AUTHOR))
        async with (
            Platform(infra) as platform,
            aiohttp.ClientSession(base_url=platform.base_url) as http,
        ):
            acknowledged = []
            for i in range(5):
                status, body = await post(http, f"before {i}")
                assert status == 201
                acknowledged.append(body["id"])
            await platform.wait("posts", body["position"])

            own_nats.stop()
            refused = []
            for i in range(3):
                status, body = await post(http, f"during {i}")
                assert status == 503, body
                assert body["type"] == "quark:unavailable"
                refused.append(f"during {i}")
            # Reads of what is already projected keep working without NATS.
            async with http.get(f"/v1/posts/{acknowledged[0]}") as resp:
                assert resp.status == 200

            restarted = embedded_nats.start_nats(tmp_path / "own-nats", port=own_nats.port)
            stack.callback(restarted.stop)
            for _ in range(200):  # the client reconnects on its own; wait for it, bounded
                if infra.nc.is_connected:
                    async with http.get("/readyz") as resp:
                        if resp.status == 200:  # and the edge's copies are in sync again
                            break
                await asyncio.sleep(0.05)
            assert infra.nc.is_connected

            status, body = await post(http, "after")
            assert status == 201
            acknowledged.append(body["id"])
            await platform.wait("posts", body["position"])
            for post_id in acknowledged:
                loaded = await infra.store.load(POST, post_id)
                assert loaded.state.exists, post_id
                async with http.get(f"/v1/posts/{post_id}") as resp:
                    assert resp.status == 200
            async with http.get("/v1/posts", params={"limit": "100"}) as resp:
                titles = {p["title"] for p in (await resp.json())["items"]}
            # A command answered 503 was not executed later behind the client's back.
            assert titles.isdisjoint(refused)
            assert len(titles) == 6


async def test_every_acknowledged_commit_survives_nats_killed_with_sigkill(
    own_nats: embedded.ManagedServer, tmp_path: Path
) -> None:
    """DESIGN §2: acknowledged means on disk. Writers append as fast as they can; the moment
    the 300th acknowledgement arrives the server is killed (no shutdown, no flush), with
    other appends in flight. After a restart on the same store every acknowledged commit
    is there, at its position, with its content.

    A killed process is what a test can do; the machine losing power is not. There the
    operating system's cache is lost too, and `sync_interval: always` (checked in
    test_embedded) is what keeps acknowledged writes.
    """
    decl = streams_mod.load(ROOT / "streams.yaml")
    await reset_streams(own_nats.url, decl)
    registry = EventRegistry(all_events())
    acknowledged: dict[int, tuple[str, str]] = {}  # position -> (post id, title)
    killed = asyncio.Event()
    nc = await nats.connect(own_nats.url, allow_reconnect=False)
    # Appends in flight when the server dies fail only at their timeout (nats-py does not
    # fail them when the connection drops): a short one keeps the test short.
    store = EventStore(nc, registry, decl.stream_map(), timeout=2.0)

    async def write(writer: int) -> None:
        for i in itertools.count():
            post_id, title = new_id(), f"writer {writer}, commit {i}"
            event = PostPublished(
                post_id=post_id, author_id=AUTHOR, title=title, body="b", published_at=utc_now()
            )
            try:
                result = await store.append(
                    AggregateRef(POST.type, post_id), 0, [event], command_id=new_id()
                )
            except UnavailableError:
                if killed.is_set():
                    return  # in flight when the server died: never acknowledged
                raise
            acknowledged[result.seq] = (post_id, title)
            if len(acknowledged) == 300:
                assert own_nats.process is not None
                os.kill(own_nats.process.pid, signal.SIGKILL)
                killed.set()

    try:
        await asyncio.wait_for(asyncio.gather(*(write(n) for n in range(16))), 60)
    finally:
        await nc.close()
    assert own_nats.process is not None
    assert own_nats.process.wait(10) == -signal.SIGKILL

    restarted = embedded_nats.start_nats(tmp_path / "own-nats", port=own_nats.port)
    try:
        nc = await nats.connect(restarted.url)
        try:
            js = nc.jetstream()
            assert len(acknowledged) >= 300
            assert await stream_head(js, "CONTENT") >= max(acknowledged)
            for seq, (post_id, title) in sorted(acknowledged.items()):
                stored = await js.get_msg("CONTENT", seq)
                assert stored.subject == f"ev.posts.post.{post_id}", seq
                [recorded] = registry.recorded(stored.data or b"", "CONTENT", seq)
                assert recorded.event.post_id == post_id and recorded.event.title == title
        finally:
            await nc.close()
    finally:
        restarted.stop()


async def test_sigterm_drains_in_flight_commands_without_losing_acknowledged_work(
    own_settings: Settings,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUARK_")},
        "QUARK_ENV": "test",
        "QUARK_NATS_URL": own_settings.nats_url,
        "QUARK_DATABASE_URL": own_settings.database_url,
        "QUARK_REDIS_URL": own_settings.redis_url,
        "QUARK_REDIS_PREFIX": own_settings.redis_prefix,
        "QUARK_HTTP_PORT": str(own_settings.http_port),
        "QUARK_DATA_DIR": str(own_settings.data_dir),
        "QUARK_STREAMS_FILE": str(ROOT / "streams.yaml"),
        "QUARK_LOG_LEVEL": "warning",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "station.cli",
        "run",
        "all",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{own_settings.http_port}"
    results: list[tuple[int, str | None]] = []
    try:
        async with aiohttp.ClientSession(base_url=base) as http:
            for _ in range(200):  # until the worker answers, bounded
                try:
                    async with http.get("/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            nc = await nats.connect(own_settings.nats_url)
            try:
                signer = await Tokens.connect(nc, secret_key(own_settings))
                HEADERS.update(signer.headers(AUTHOR))
            finally:
                await nc.close()
            answered = asyncio.Event()

            async def client(n: int) -> None:
                for i in range(40):
                    try:
                        status, body = await post(http, f"c{n}-{i}")
                    except aiohttp.ClientError:
                        results.append((-1, None))
                        return
                    results.append((status, body.get("id") if status == 201 else None))
                    if len(results) >= 60:
                        answered.set()

            clients = [asyncio.create_task(client(n)) for n in range(16)]
            try:
                await asyncio.wait_for(answered.wait(), 30)
            except TimeoutError:
                proc.kill()
                output = (await proc.stdout.read()).decode() if proc.stdout else ""
                pytest.fail(f"only {len(results)} answers: {results[:5]}\n{output}")
            proc.send_signal(signal.SIGTERM)
            await asyncio.gather(*clients)
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = (await proc.stdout.read()).decode() if proc.stdout else ""
    assert code == 0, output
    assert "Traceback" not in output, output
    created = [post_id for status, post_id in results if status == 201]
    assert len(created) >= 60
    # Whatever was not accepted was refused cleanly (503 or a closed listener), never a 500.
    assert {status for status, _ in results} <= {201, 503, -1}

    async with AsyncExitStack() as stack:
        infra = await open_infra(own_settings, stack, all_events(), name="after-sigterm")
        for post_id in created:
            assert (await infra.store.load(POST, post_id)).state.exists
        # The projection picks up where the drained one stopped: every acknowledged post.
        async with Platform(infra, edge=False) as platform:
            await platform.wait("posts", await head_position(infra, "CONTENT"))
            count = await infra.pool.fetchval(
                "SELECT count(*) FROM posts.posts WHERE id = ANY($1::uuid[])", created
            )
            assert count == len(created)
