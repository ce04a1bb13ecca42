"""A worker process with no HTTP of its own (here the posts handlers) serves its Prometheus
metrics on QUARK_METRICS_PORT, counting the commands it handled; the hub exports the
modules it finds."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import aiohttp

from core import embedded
from core.settings import Settings
from tests.e2e.hub.conftest import bearer
from tests.support.cli import quark_env
from tests.support.identity import IdentityClient
from tests.support.platform import Platform


async def test_a_handler_process_serves_its_metrics(
    platform: Platform,
    settings: Settings,
    client: IdentityClient,
    hub: aiohttp.ClientSession,
    admin: dict[str, Any],
) -> None:
    port = embedded.free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUARK_")},
        **quark_env(settings),
        "QUARK_METRICS_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "station.cli",
        "run",
        "handler",
        "posts",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        # Only that process serves posts commands once the in-process posts handlers stop.
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as s:
            while True:
                try:
                    async with s.get(f"http://127.0.0.1:{port}/metrics") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "no /metrics"
                await asyncio.sleep(0.2)
            await platform.workers.stop_module("posts")
            status, _, _ = await client.post(
                "/v1/posts", {"body": "counted"}, admin["access_token"]
            )
            assert status == 201
            async with s.get(f"http://127.0.0.1:{port}/metrics") as r:
                text = await r.text()
        assert (
            'quark_commands_total{command="PublishPost",context="posts",outcome="ok"} 1.0' in text
        )
    finally:
        process.terminate()
        await process.wait()
    async with hub.get("/v1/hub/health", headers=bearer(admin)) as r:
        assert r.status == 200
    async with hub.get("/metrics") as r:
        assert 'quark_module_up{module="projection-posts"}' in await r.text()
