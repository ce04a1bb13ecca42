"""Test harness: real servers, throwaway state per test, workers in-process.

- one nats-server per test session (random port, temp store, synced writes);
- a throwaway PostgreSQL database (a copy of a template, restored and reused: see
  tests/support/databases.py) and an isolated Redis key prefix for every test that asks
  for `settings`, and the streams re-created from `streams.yaml`, so tests never see each
  other's events;
- `platform` runs handlers, projections and the edge in this process on a free port.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import asyncpg
import nats
import nats.js.errors
import pytest
import redis.asyncio as aioredis

from core import embedded, embedded_nats
from core import streams as streams_mod
from core.bootstrap import Infra, open_infra
from core.projection import PgProjection
from core.projection_pg import PgSink
from core.settings import Settings
from handlers import all_events
from projections import projections
from tests.support import auth as auth_support
from tests.support import servers
from tests.support.auth import Tokens
from tests.support.databases import Databases, with_database
from tests.support.platform import Platform

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quark")


@pytest.fixture(scope="session")
def started_servers() -> Iterator[list[embedded.ManagedServer]]:
    started: list[embedded.ManagedServer] = []
    yield started
    for server in reversed(started):
        server.stop()


@pytest.fixture(scope="session")
def nats_server(
    session_tmp: Path, started_servers: list[embedded.ManagedServer]
) -> embedded.ManagedServer:
    server = embedded_nats.start_nats(session_tmp / "nats")
    started_servers.append(server)
    return server


@pytest.fixture(scope="session")
def pg_admin_url(session_tmp: Path, started_servers: list[embedded.ManagedServer]) -> str:
    return servers.postgres_url(session_tmp, started_servers)


@pytest.fixture(scope="session")
def redis_base_url(session_tmp: Path, started_servers: list[embedded.ManagedServer]) -> str:
    return servers.redis_url(session_tmp, started_servers)


async def reset_streams(nats_url: str, decl: streams_mod.Declarations) -> None:
    """Delete every stream and bucket, then apply streams.yaml afresh."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for name in await js.streams_info():
            await js.delete_stream(name.config.name)
        for attempt in range(20):
            try:
                report = await streams_mod.apply(js, decl)
                break
            except nats.js.errors.ServerError:
                # nats-server removes a deleted stream's files in the background; creating
                # the same stream again at that moment fails with "error creating store".
                if attempt == 19:
                    raise
                await asyncio.sleep(0.05)
        assert report.ok, report.refused
    finally:
        await nc.close()


@pytest.fixture(scope="session")
async def template_database(pg_admin_url: str) -> AsyncIterator[str]:
    """A database holding every PostgreSQL read model, made once per test process. Each
    test's database is a copy of it, so a test's platform finds its read models made, as a
    restarted station does, instead of spending a fifth of its start-up on DDL."""
    name = f"quark_template_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    consumers = streams_mod.load(ROOT / "streams.yaml").file.consumers
    pool = await asyncpg.create_pool(with_database(pg_admin_url, name), min_size=1, max_size=1)
    try:
        for projection in projections().values():
            if isinstance(projection, PgProjection):
                sources = [s.stream for s in consumers[projection.name].sources]
                await PgSink(projection, pool, sources).ensure()
    finally:
        await pool.close()  # a template may have no connections while it is copied
    yield name
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def databases(pg_admin_url: str, template_database: str) -> AsyncIterator[Databases]:
    """This test process's copies of the template, restored after each test and reused."""
    made = Databases(pg_admin_url, template_database)
    yield made
    await made.close()


@pytest.fixture
async def settings(
    nats_server: embedded.ManagedServer,
    pg_admin_url: str,
    databases: Databases,
    redis_base_url: str,
    tmp_path: Path,
) -> AsyncIterator[Settings]:
    database = await databases.take()
    prefix = f"quarktest:{secrets.token_hex(4)}:"
    decl = streams_mod.load(ROOT / "streams.yaml")
    await reset_streams(nats_server.url, decl)
    yield Settings(
        env="test",
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        database_url=with_database(pg_admin_url, database),
        redis_url=redis_base_url,
        redis_prefix=prefix,
        streams_file=ROOT / "streams.yaml",
        log_level="warning",
        http_port=embedded.free_port(),
        # Still argon2id, at a cost that keeps the suite fast on 2 cores.
        password_hash_memory_kib=8192,
        password_hash_iterations=1,
        # The in-process platform runs no module in another language; the tests of one
        # start it themselves (tests/support/link_preview.py).
        without_modules="link-preview",
    )
    await databases.give_back(database)
    r = aioredis.from_url(redis_base_url)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()


@pytest.fixture
async def infra(settings: Settings) -> AsyncIterator[Infra]:
    async with AsyncExitStack() as stack:
        yield await open_infra(settings, stack, all_events(), name="quark-test")


@pytest.fixture
async def platform(infra: Infra) -> AsyncIterator[Platform]:
    """Handlers, projections and the edge running in this process."""
    async with Platform(infra) as p:
        yield p


@pytest.fixture
async def tokens(infra: Infra) -> Tokens:
    """Signs access tokens for any user id (tests of other contexts than identity)."""
    return await Tokens.open(infra)


@pytest.fixture
def signed_in(tokens: Tokens) -> Iterator[Tokens]:
    """Makes `tests.support.auth.as_user` sign for this test's platform."""
    auth_support.current[:] = [tokens]
    yield tokens
    auth_support.current.clear()


@pytest.fixture
async def http(platform: Platform) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=platform.base_url) as session:
        yield session


def pytest_report_header() -> str:
    return f"quark tests: PostgreSQL/Redis from QUARK_TEST_* or {os.environ.get('QUARK_DATABASE_URL', 'machine/embedded')}"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-protocol HTTP server (moto's server mode, in a thread of this process):
    the object store of the S3 media suites. `host:port`; any credentials work."""
    from moto.server import ThreadedMotoServer

    port = embedded.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


def pytest_configure(config: pytest.Config) -> None:
    """Logging as the platform's processes have it (every line names its module, and
    reaches NATS for the hub once a test's infrastructure is open), readable in reports."""
    from core.logging import configure_logging

    configure_logging(Settings(env="test", log_level="info", log_format="console"))
