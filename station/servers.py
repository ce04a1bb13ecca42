"""Where a `quark` command finds its servers: embedded ones it starts (`quark up`, `quark
infra`), the URLs a running `quark up` left in the data dir, or `QUARK_*_URL`; and opening
the infrastructure with every context's events registered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

from core.errors import ConfigError
from core.settings import Settings


async def start_embedded(
    settings: Settings, stack: AsyncExitStack, *, quiet: bool = False
) -> Settings:
    """Start whatever server is not configured, in the data dir; stop them with `stack`."""
    from core.embedded_nats import start_nats
    from core.embedded_postgres import start_postgres
    from core.embedded_redis import start_redis

    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    changes: dict[str, str] = {}
    started = time.perf_counter()
    for field, start in (
        ("nats_url", start_nats),
        ("database_url", start_postgres),
        ("redis_url", start_redis),
    ):
        if getattr(settings, field):
            continue
        server = await asyncio.to_thread(start, data)
        stack.callback(server.stop)
        changes[field] = server.url
        if not quiet:
            print(f"  embedded {server.name:<10} {server.url}", file=sys.stderr)
    if changes and not quiet:
        print(f"  embedded servers ready in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return settings.with_(**changes)


async def apply_streams(settings: Settings) -> bool:
    import nats

    from core import streams

    decl = streams.load(settings.streams_file)
    nc = await nats.connect(settings.nats_url.split(","), connect_timeout=3)
    try:
        report = await streams.apply(nc.jetstream(), decl, replicas=settings.stream_replicas)
    finally:
        await nc.close()
    for line in report.created:
        print(f"  created   {line}", file=sys.stderr)
    for line in report.updated:
        print(f"  updated   {line}", file=sys.stderr)
    for line in report.refused:
        print(f"  REFUSED   {line}", file=sys.stderr)
    return report.ok


async def open_infra_for(settings: Settings, stack: AsyncExitStack, name: str) -> Any:
    from core.bootstrap import open_infra
    from handlers import all_events

    return await open_infra(settings, stack, all_events(), name=name)


SERVERS_FILE = "servers.json"


def remember_servers(settings: Settings, stack: AsyncExitStack) -> None:
    """While `quark up` runs, other `quark` commands on this data dir (admin, keys, streams)
    find its servers here instead of needing QUARK_*_URL."""
    path = settings.data_dir / SERVERS_FILE
    urls = {
        "nats_url": settings.nats_url,
        "database_url": settings.database_url,
        "redis_url": settings.redis_url,
    }
    path.write_text(json.dumps(urls))
    stack.callback(lambda: path.unlink(missing_ok=True))


def require_external(settings: Settings) -> Settings:
    """The settings with every server URL: from QUARK_*_URL, else from a running `quark up`."""
    names = {
        "nats_url": "QUARK_NATS_URL",
        "database_url": "QUARK_DATABASE_URL",
        "redis_url": "QUARK_REDIS_URL",
    }
    missing = [field for field in names if not getattr(settings, field)]
    if not missing:
        return settings
    recorded: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        recorded = json.loads((settings.data_dir / SERVERS_FILE).read_text())
    if all(recorded.get(field) for field in missing):
        return settings.with_(**{field: recorded[field] for field in missing})
    raise ConfigError(
        f"set {', '.join(names[f] for f in missing)} (or start `quark up` for embedded servers)"
    )
