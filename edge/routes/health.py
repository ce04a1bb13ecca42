"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web

from core.metrics import render
from edge.auth import ACCESS
from edge.context import infra
from edge.routing import Route


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str] = {}


_encoder = msgspec.json.Encoder()


async def healthz(_: web.Request) -> web.Response:
    """Alive: the process answers. Dependencies are /readyz's business."""
    return web.Response(body=_encoder.encode(Health(status="ok")), content_type="application/json")


async def _check(name: str, probe) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), 1.0)
        return name, "ok"
    except Exception as exc:
        return name, f"down: {type(exc).__name__}"


async def readyz(request: web.Request) -> web.Response:
    i = infra(request)

    async def nats_probe() -> None:
        if not i.nc.is_connected:
            raise ConnectionError("disconnected")
        await i.nc.jetstream().account_info()

    async def pg_probe() -> None:
        await i.pool.fetchval("SELECT 1")

    async def redis_probe() -> None:
        await i.redis.ping()

    results = await asyncio.gather(
        _check("nats", nats_probe), _check("postgres", pg_probe), _check("redis", redis_probe)
    )
    checks = dict(results)
    # Until its copy of ended sessions is in sync the edge refuses authenticated requests:
    # a load balancer should not send it any.
    checks["access"] = "ok" if request.app[ACCESS].in_sync else "down: syncing"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return web.Response(
        status=200 if ok else 503,
        body=_encoder.encode(body),
        content_type="application/json",
        headers={} if ok else {"Retry-After": "1"},
    )


async def metrics(_: web.Request) -> web.Response:
    return web.Response(body=render(), headers={"Content-Type": "text/plain; version=0.0.4"})


ROUTES = [
    Route("GET", "/healthz", healthz, "Liveness", "operations", response=Health),
    Route(
        "GET",
        "/readyz",
        readyz,
        "Readiness: NATS, PostgreSQL and Redis answer; ended sessions are in sync",
        "operations",
        response=Health,
        answers=((503, Health),),
    ),
    Route("GET", "/metrics", metrics, "Prometheus metrics", "operations"),
]
