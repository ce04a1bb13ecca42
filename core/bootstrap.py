"""The one place that opens connections and builds the kernel's objects (the composition
root). Everything else receives what it needs as arguments; nothing connects at import."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
import nats.errors
import nats.js.errors
import redis.asyncio as aioredis
from nats.aio.client import Client as NATS

from core import streams as streams_mod
from core.blobstore import BlobStore, open_blobstore
from core.bus import CommandBus
from core.directget import DirectGets
from core.errors import ConfigError, UnavailableError
from core.eventstore import EventStore
from core.logging import get_logger, ship_logs, stop_shipping_logs
from core.personal import Vault
from core.presence import Presence
from core.ratelimit import Lockouts, RateLimiter
from core.registry import Event, EventRegistry
from core.settings import Settings

log = get_logger("quark.bootstrap")
CONNECT_TIMEOUT = 30.0


@dataclass
class Infra:
    settings: Settings
    nc: NATS
    pool: asyncpg.Pool
    redis: aioredis.Redis
    decl: streams_mod.Declarations
    registry: EventRegistry
    store: EventStore
    bus: CommandBus
    secret_key: bytes
    vault: Vault
    limiter: RateLimiter
    lockouts: Lockouts
    #: Who is online (Redis): the gateway writes it, the presence routes read it.
    presence: Presence
    #: Services a context builds once per process from the above (e.g. its password hasher).
    extras: dict[str, Any] = field(default_factory=dict)
    _blobs: BlobStore | None = field(default=None, init=False, repr=False)

    async def blobstore(self) -> BlobStore:
        """The media bytes' store, opened on first use: only the processes that touch media
        (the edge, the media worker) connect to S3."""
        if self._blobs is None:
            self._blobs = await open_blobstore(self.settings)
        return self._blobs


def secret_key(settings: Settings) -> bytes:
    """The key signing cursors (and later tokens): the file `QUARK_SECRET_KEY_FILE`, or in
    dev a random key kept in the data dir so cursors survive restarts.

    Several workers start at once (four `quark run …` processes): the key is written to a temporary file
    and linked into place, so exactly one wins and nobody reads a half-written key.
    """
    if settings.secret_key_file is not None:
        key = settings.secret_key_file.read_bytes().strip()
        if len(key) < 32:
            raise ConfigError("QUARK_SECRET_KEY_FILE must hold at least 32 bytes")
        return key
    if settings.env == "production":
        raise ConfigError("set QUARK_SECRET_KEY_FILE in production")
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_hex(32).encode())
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_bytes().strip()


async def connect_nats(settings: Settings, name: str) -> NATS:
    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", error=str(exc))

    try:
        # Once connected, reconnect forever; the first connection gets 30 s (a worker that
        # starts before NATS in compose waits for it, then fails clearly and is restarted).
        return await asyncio.wait_for(
            nats.connect(
                servers=settings.nats_url.split(","),
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=3,
                error_cb=on_error,
                pending_size=64 * 1024 * 1024,
            ),
            CONNECT_TIMEOUT,
        )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        raise UnavailableError(f"NATS is not reachable at {settings.nats_url} ({exc!r})") from None


#: Seconds an unused pooled PostgreSQL connection stays open (asyncpg's default: 300).
PG_IDLE_SECONDS = 30.0


async def keep_session(_conn: asyncpg.Connection) -> None:
    """The pool's reset on release, which does nothing beyond asyncpg's own (rolling back a
    transaction left open).

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: a round trip per pooled query, 13% of the edge's CPU under the chat
    bench's sends. Nothing here keeps session state past a transaction (settings are
    `SET LOCAL`, advisory locks `_xact_`, no cursors or LISTEN outside one); the one
    session-level lock, a projection's leadership, unlocks itself or ends its connection."""


async def open_infra(
    settings: Settings, stack: AsyncExitStack, events: Iterable[type[Event]], *, name: str = "quark"
) -> Infra:
    """Connect to NATS, PostgreSQL and Redis; close them when `stack` closes."""
    decl = streams_mod.load(settings.streams_file)
    nc = await connect_nats(settings, name)
    # Log lines reach the hub (and `quark logs -f`) over NATS from now on.
    ship_logs(nc)
    stack.push_async_callback(stop_shipping_logs)

    async def close_nats() -> None:
        # drain() delivers what is in flight; if NATS is gone it fails, and close() must still
        # run or the client would keep reconnecting forever.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.drain(), 10)
        with contextlib.suppress(Exception):
            await nc.close()

    stack.push_async_callback(close_nats)
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=1,
        max_size=20,
        # A burst (a start, a replay) opens up to 20 backends; each idle one holds ~15 MB
        # of PostgreSQL's memory, so what a quiet process does not use goes back after
        # half a minute (the pool cycles its connections, so none sits that long under load).
        max_inactive_connection_lifetime=PG_IDLE_SECONDS,
        command_timeout=30,
        reset=keep_session,
    )
    stack.push_async_callback(pool.close)
    # A blocking pool: under load a request waits (bounded) for a free connection; the
    # default pool raises "Too many connections" at once, which reached clients as 500s.
    redis = aioredis.Redis.from_pool(
        aioredis.BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=settings.redis_pool_size, timeout=1.0
        )
    )
    stack.push_async_callback(redis.aclose)
    registry = EventRegistry(events)
    js = nc.jetstream()
    snapshots = None
    with contextlib.suppress(nats.js.errors.BucketNotFoundError):
        snapshots = await js.key_value("snapshots")
    store = EventStore(
        nc,
        registry,
        decl.stream_map(),
        snapshots=snapshots,
        direct=DirectGets(settings.nats_url),
    )
    await store.start()
    stack.push_async_callback(store.stop)
    bus = CommandBus(nc, timeout=settings.command_timeout)
    key = secret_key(settings)
    try:
        vault = await Vault.connect(js, key)
    except nats.js.errors.BucketNotFoundError:
        raise ConfigError("the person_keys bucket is missing: run `quark streams apply`") from None
    limiter = RateLimiter(redis, settings.redis_prefix)
    lockouts = Lockouts(redis, settings.redis_prefix)
    presence = Presence(redis, settings.redis_prefix, ttl=settings.presence_ttl_seconds)
    return Infra(
        settings,
        nc,
        pool,
        redis,
        decl,
        registry,
        store,
        bus,
        key,
        vault,
        limiter,
        lockouts,
        presence,
    )
