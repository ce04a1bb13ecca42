"""The chat bench's ceilings and floors, measured in the same run: what the layers beneath
the edge achieve on their own.

Before the platform starts (`measure_ceilings`): the aiohttp hello-world POST with the same
Python client and body size as figure 2, and durable JetStream appends at as many
publishers (every message is one such append). Once it is stopped (`raw_server_figures`): a
raw aiohttp websocket server (`bench/broadcast.py`, `RawServer`) under the same client code
as figures 1, 3 and 4 — its memory per idle socket, the relay of a frame padded to the
size of the edge's (`padded_frame`: one HTTP hop and one websocket write), and a broadcast
of it to as many sockets as the channel has members.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from bench import ceilings
from bench.chat_deliveries import counting, fan_out_figure, latency_figure
from bench.chat_messages import CLIENTS, MESSAGE_BODY, post_message
from bench.chat_sockets import Clients, idle_figure
from bench.environment import BenchServer
from bench.loadgen import LoopResult, bearer_headers, http_closed_loop

if TYPE_CHECKING:
    from bench.chat import Sizes


class RawServer(BenchServer):
    """`bench/broadcast.py` in a child process on a free port."""

    def __init__(self, tmp: Path) -> None:
        super().__init__("raw websocket server", "bench.broadcast", tmp)


def padded_frame(size: int, message_id: str = "", cursor: int = 0) -> bytes:
    """An `item` frame carrying a `message.new` item that names `message_id`, padded to
    `size` bytes (or as short as it can be): what the raw server sends in place of the
    edge's frame, so both write and the client reads the same number of bytes."""

    def build(pad: str) -> bytes:
        item = {"type": "message.new", "message": {"id": message_id}, "pad": pad}
        return json.dumps(
            {"type": "item", "cursor": cursor, "item": item}, separators=(",", ":")
        ).encode()

    bare = build("")
    return build("x" * max(0, size - len(bare)))


async def measure_ceilings(
    nats_url: str, tmp: Path, tokens: list[str], sizes: Sizes, say: Callable[[str], None]
) -> tuple[LoopResult, LoopResult]:
    """Figure 2's ceilings, before the platform starts (so nothing else competes for the
    cores): the hello-world POST and durable JetStream appends, `CLIENTS` at once."""
    say(f"ceiling: aiohttp hello-world POST, {CLIENTS} clients (Python client)")
    hello_server = ceilings.HelloServer(tmp)
    try:
        hello = await http_closed_loop(
            "POST",
            hello_server.url,
            bearer_headers(tokens),
            body=MESSAGE_BODY,
            status=201,
            clients=CLIENTS,
            seconds=sizes.http_seconds,
            max_requests=sizes.http_max_requests,
            warmup_seconds=sizes.warmup_seconds,
        )
    finally:
        hello_server.stop()
    say(f"ceiling: JetStream publish (durable), {CLIENTS} publishers")
    jetstream = await ceilings.jetstream_publish(
        nats_url,
        b"x" * 512,
        publishers=CLIENTS,
        seconds=sizes.http_seconds,
        max_requests=sizes.http_max_requests,
        warmup_seconds=sizes.warmup_seconds,
    )
    return hello, jetstream


async def raw_channel_figure(
    raw: RawServer, members: int, frame_bytes: int, seconds: float
) -> dict[str, Any]:
    counter, seen = [0], [0]
    clients = Clients(raw.base_url, counting(counter, seen))
    frame = padded_frame(frame_bytes)
    try:
        await clients.open([f"m{i}" for i in range(members)])

        async def post(session: aiohttp.ClientSession) -> str | None:
            return await post_message(session, f"{raw.base_url}/v1/broadcast", {}, frame)

        result = await fan_out_figure(clients, counter, post, members, seconds)
    finally:
        await clients.close()
    result["frame_bytes"] = seen[0]
    return result


async def raw_server_figures(
    tmp: Path,
    sizes: Sizes,
    relays: int,
    latency_frame_bytes: int,
    channel_frame_bytes: int,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The raw server's idle sockets (figure 1's floor), relays to `relays` sockets (figure
    3's) and broadcast (figure 4's ceiling), with frames the size the edge's were."""
    raw = RawServer(tmp)
    try:
        raw_idle = await idle_figure(
            raw.base_url,
            raw.pid,
            [f"i{n}" for n in range(sizes.idle_sockets)],
            say,
            "raw server",
        )
        say(f"floor: relay through the raw server at {sizes.latency_rate:,.0f}/s")
        size = latency_frame_bytes or 400

        async def via_raw(session: aiohttp.ClientSession, i: int, mid: str) -> str | None:
            url = f"{raw.base_url}/v1/relay/r{i % relays}"
            return await post_message(session, url, {}, padded_frame(size, mid))

        raw_latency = await latency_figure(
            raw.base_url,
            [f"r{n}" for n in range(relays)],
            via_raw,
            sizes.latency_rate,
            sizes.latency_seconds,
            sizes.warmup_seconds,
        )
        say(f"ceiling: raw broadcast to {sizes.channel_members:,} sockets")
        raw_channel = await raw_channel_figure(
            raw, sizes.channel_members, channel_frame_bytes or size, sizes.channel_seconds
        )
    finally:
        raw.stop()
    return raw_idle, raw_latency, raw_channel
