"""Figure 3 of the media bench: serving a public thumbnail, `GET /media/{key}`.

An uploaded image is made public by setting it as its owner's avatar (`public_thumbnail`),
then its 320 px thumbnail is fetched at 64 keep-alive clients, plain and with
`If-None-Match` (304), in rounds alternating with the edge's own static asset nearest in
size (`nearest_asset`), so that the difference is what delivering media costs: the
read-model lookup, the blob `stat` and read (`get_figures`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp

from bench.cpu import metered_loop
from bench.environment import BenchSetupError, Platform
from bench.loadgen import LoopResult, Send, http_sender
from edge.docs import load_assets

if TYPE_CHECKING:
    from bench.media import Sizes

GET_CLIENTS = 64
THUMBNAIL = "320"


async def public_thumbnail(
    platform: Platform, session: aiohttp.ClientSession, media_id: str, token: str
) -> tuple[str, int, str]:
    """Make `media_id` its owner's avatar (public); its thumbnail's URL, size and ETag."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"avatar_media_id": media_id})
    async with session.patch(f"{platform.base_url}/v1/me", data=body, headers=headers) as resp:
        changed = await resp.json(content_type=None)
        if resp.status != 200:
            raise BenchSetupError(f"setting the avatar failed: {resp.status} {changed}")
    after = {"Quark-After": changed["position"]}
    async with session.get(f"{platform.base_url}/v1/media/{media_id}", headers=after) as resp:
        view = await resp.json(content_type=None)
        if resp.status != 200:
            raise BenchSetupError(f"the avatar's media view: {resp.status} {view}")
    url = view["variants"][THUMBNAIL]["url"]
    if "sig=" in url:
        raise BenchSetupError(f"the avatar's thumbnail is not public: {url}")
    # The attachment reaches the media read model on its own; wait until it serves the bytes.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        async with session.get(f"{platform.base_url}{url}") as resp:
            data = await resp.read()
            if resp.status == 200:
                return url, len(data), resp.headers["ETag"]
        if loop.time() > deadline:
            raise BenchSetupError(f"the public thumbnail answers {resp.status}")
        await asyncio.sleep(0.1)


def nearest_asset(size: int) -> tuple[str, int]:
    """The URL path and size of the edge's static asset nearest in size to `size` bytes."""
    asset = min(load_assets().values(), key=lambda a: abs(len(a.body) - size))
    return asset.url, len(asset.body)


async def get_figures(
    platform: Platform,
    session: aiohttp.ClientSession,
    thumbnail: str,
    etag: str,
    static: str,
    sizes: Sizes,
    say: Callable[[str], None],
) -> dict[str, list[tuple[LoopResult, dict[str, float]]]]:
    plain = [{"Accept-Encoding": "identity"}] * GET_CLIENTS
    cached = [{"Accept-Encoding": "identity", "If-None-Match": etag}] * GET_CLIENTS
    base = platform.base_url
    senders: dict[str, Send] = {
        "media": http_sender(session, "GET", f"{base}{thumbnail}", plain),
        "static": http_sender(session, "GET", f"{base}{static}", plain),
        "media_304": http_sender(session, "GET", f"{base}{thumbnail}", cached, status=304),
    }
    rounds: dict[str, list[tuple[LoopResult, dict[str, float]]]] = {k: [] for k in senders}
    for round_no in range(sizes.get_rounds):
        for name, send in senders.items():
            say(
                f"figure 3: GET {name}, {GET_CLIENTS} clients "
                f"(round {round_no + 1} of {sizes.get_rounds})"
            )
            rounds[name].append(
                await metered_loop(
                    send,
                    platform.pids(),
                    clients=GET_CLIENTS,
                    seconds=sizes.get_seconds,
                    max_requests=sizes.max_requests,
                    warmup_seconds=sizes.warmup_seconds,
                    label=f"GET {name}",
                )
            )
            platform.check_alive()
    return rounds
