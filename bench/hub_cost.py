"""Figure 5 of the kernel bench: what the hub costs the command path. The same 64-client
`POST /v1/posts` load as figure 1, in alternating rounds: without the hub, then with the hub
running (`quark run hub`) and one dashboard open (a live feed subscriber, which makes it
sample the station every second: discovery, stream and consumer infos, health every five
seconds). Rounds alternate so the machine's drift between runs falls on both sides; the
figure is the median of each side and their ratio (target: with >= 0.95 x without).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.environment import LOOPBACK, Platform, spawn, wait_for_port
from bench.loadgen import bearer_headers, closed_loop, http_post_sender
from bench.wrk import wrk_binary, wrk_loop
from core import embedded
from core.tokens import TokenService

ROUNDS = 3
TARGET = 0.95


async def _rate(url: str, body: bytes, tokens: list[str], seconds: float) -> float:
    wrk = wrk_binary()
    if wrk:
        return (await wrk_loop(wrk, url, body, tokens, clients=64, seconds=seconds)).per_s
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        send = http_post_sender(session, url, body, bearer_headers(tokens[:64]))
        return (await closed_loop(send, clients=64, seconds=seconds, max_requests=10**7)).per_s


async def _dashboard(hub_url: str, token: str, frames: list[float]) -> None:
    """One open dashboard: the live feed, read until cancelled."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{hub_url}/v1/hub/live", headers=headers, timeout=None) as r,
    ):
        if r.status != 200:
            raise RuntimeError(f"the hub's live feed answered {r.status}")
        async for line in r.content:
            if line.startswith(b"event: tick"):
                frames.append(time.monotonic())


async def hub_cost_figure(
    platform: Platform,
    tokens: list[str],
    token_service: TokenService,
    body: bytes,
    seconds: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    url = f"{platform.base_url}/v1/posts"
    admin, _ = token_service.issue(
        str(uuid.uuid4()), str(uuid.uuid4()), ("admin",), int(time.time())
    )
    without: list[float] = []
    with_hub: list[float] = []
    frames: list[float] = []
    for n in range(ROUNDS):
        say(f"figure 5: the hub's cost, round {n + 1} of {ROUNDS}: without the hub")
        without.append(await _rate(url, body, tokens, seconds))
        port = embedded.free_port()
        env = {
            **platform.env(),
            "QUARK_HUB_HOST": LOOPBACK,
            "QUARK_HUB_PORT": str(port),
            "QUARK_HUB_EDGE_URL": platform.base_url,
        }
        argv = [sys.executable, "-m", "station.cli", "run", "hub"]
        hub = spawn("hub", argv, env, platform.tmp / "logs")
        try:
            wait_for_port(hub, port)
            hub_url = f"http://{LOOPBACK}:{port}"
            viewer = asyncio.create_task(_dashboard(hub_url, admin, frames))
            await asyncio.sleep(2.0)  # the sampler running before the round starts
            say(f"figure 5: round {n + 1}: with the hub and one dashboard open")
            with_hub.append(await _rate(url, body, tokens, seconds))
            if viewer.done():
                viewer.result()  # the dashboard failed: say why
            viewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await viewer
        finally:
            hub.stop()
        platform.check_alive()
    base, loaded = statistics.median(without), statistics.median(with_hub)
    ratio = loaded / base if base else None
    return {
        "rounds": ROUNDS,
        "seconds_per_round": seconds,
        "without_hub_per_s": [round(x, 1) for x in without],
        "with_hub_per_s": [round(x, 1) for x in with_hub],
        "median_without_per_s": round(base, 1),
        "median_with_per_s": round(loaded, 1),
        "ratio": None if ratio is None else round(ratio, 3),
        "target_ratio": TARGET,
        "met": ratio is not None and ratio >= TARGET,
        "dashboard_frames": len(frames),
    }


def hub_cost_text(figure: dict[str, Any]) -> str:
    return (
        f"hub cost (64 clients, {figure['rounds']} alternating rounds of "
        f"{figure['seconds_per_round']:g} s): without the hub "
        f"{figure['median_without_per_s']:,.0f}/s, with the hub and one dashboard open "
        f"{figure['median_with_per_s']:,.0f}/s: ratio {figure['ratio']} (target >= "
        f"{figure['target_ratio']}: {'met' if figure['met'] else 'NOT met'}); "
        f"{figure['dashboard_frames']} live frames received; rounds without "
        f"{figure['without_hub_per_s']}, with {figure['with_hub_per_s']}"
    )
