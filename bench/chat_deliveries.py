"""Figures 3, 4 and 5 of the chat bench: messages reaching the sockets that wait for them.

- **Send → delivered** (`latency_figure`): an open loop of messages, each timed from its
  POST (the message id is the client's, so the frame names it) to its recipient's socket
  reading the `message.new` item (`Arrivals`).
- **Channel deliveries/s** (`channel_figure`): a channel's members all connected while its
  owner posts; `fan_out_figure` counts the frames until every acknowledged post has reached
  every member.
- **Resume** (`resume_figure`): a reader away while messages arrive comes back with its
  cursor (`reconnect_ms`), beside reading the same items of its inbox straight from
  JetStream (`inbox_read_ms`).

`latency_figure` and `fan_out_figure` take the way to send as an argument, so the raw
server's bounds (`bench.chat_ceilings`) are measured by the same code as the edge's figures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.chat_messages import (
    MESSAGE_BODY,
    give_profiles,
    messages_url,
    post_message,
    start_direct,
)
from bench.chat_sockets import Clients, OnFrame
from bench.environment import BenchSetupError, Platform, access_tokens, caught_up
from bench.loadgen import bearer_headers, open_loop, percentile
from bench.loadgen import rounded as _r
from core import inbox
from core.ids import new_id
from core.pull import PullStream
from edge.positions import PositionWatcher

if TYPE_CHECKING:
    from bench.chat import Sizes

CHANNEL_POSTERS = 4
RESUME_SENDERS = 10


# --- figure 3: send -> delivered ----------------------------------------------------------


class _Message(msgspec.Struct):
    id: str = ""


class _Item(msgspec.Struct):
    type: str = ""
    message: _Message | None = None


class _Frame(msgspec.Struct):
    type: str = ""
    cursor: int | None = None
    item: _Item | None = None


_decode_frame = msgspec.json.Decoder(_Frame)


def delivery_rate(deliveries: int, started: float, last: float) -> float:
    """Deliveries a second from the first send (`started`) to the last delivery (`last`)."""
    return deliveries / (last - started) if deliveries and last > started else 0.0


@dataclass
class Arrivals:
    """Messages sent (by id, when) and the milliseconds until each reached its socket."""

    sent: dict[str, tuple[float, bool]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    frame_bytes: int = 0
    last: float = 0.0
    measured: int = 0

    def on_frame(self, _i: int, data: str) -> None:
        if '"message.new"' not in data:
            return
        now = time.perf_counter()
        frame = _decode_frame.decode(data)
        message = frame.item.message if frame.item is not None else None
        if message is None:
            return
        entry = self.sent.pop(message.id, None)
        if entry is None:
            return
        self.frame_bytes = self.frame_bytes or len(data.encode())
        t0, measured = entry
        if measured:
            self.latencies_ms.append((now - t0) * 1000)
            self.last = now


async def _drain(arrivals: Arrivals, expected: int, stall_seconds: float = 10.0) -> None:
    """Until `expected` measured messages arrived, or none arrived for `stall_seconds`."""
    seen, at = -1, time.monotonic()
    while len(arrivals.latencies_ms) < expected:
        if len(arrivals.latencies_ms) != seen:
            seen, at = len(arrivals.latencies_ms), time.monotonic()
        elif time.monotonic() - at > stall_seconds:
            return
        await asyncio.sleep(0.01)


async def latency_figure(
    base_url: str,
    tokens: Sequence[str],
    send_to: Callable[[aiohttp.ClientSession, int, str], Any],
    rate: float,
    seconds: float,
    warmup_seconds: float,
) -> dict[str, Any]:
    """An open loop at `rate`: message `i` goes to socket `i % len(tokens)` through
    `send_to(session, i, message_id)`; each is timed until its socket reads it."""
    arrivals = Arrivals()
    clients = Clients(base_url, arrivals.on_frame)
    await clients.open(tokens)
    measuring = [False]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

            async def send(i: int) -> str | None:
                message_id = new_id()
                arrivals.sent[message_id] = (time.perf_counter(), measuring[0])
                return await send_to(session, i, message_id)

            await open_loop(send, rate=rate, seconds=warmup_seconds)
            measuring[0] = True
            started = time.perf_counter()
            loop = await open_loop(send, rate=rate, seconds=seconds)
            expected = loop.sent - loop.errors
            await _drain(arrivals, expected)
    finally:
        await clients.close()
    lat = arrivals.latencies_ms
    return {
        "offered_per_s": rate,
        "sent": loop.sent,
        "send_errors": loop.errors,
        "first_error": loop.first_error,
        "send_schedule_per_s": round(loop.achieved_per_s, 1),
        "delivered": len(lat),
        "missing": expected - len(lat),
        "delivered_per_s": round(delivery_rate(len(lat), started, arrivals.last), 1),
        "p50_ms": _r(percentile(lat, 50)),
        "p99_ms": _r(percentile(lat, 99)),
        "max_ms": _r(max(lat)) if lat else None,
        "frame_bytes": arrivals.frame_bytes,
        "closes": dict(clients.closes),
    }


# --- figure 4: channel deliveries ---------------------------------------------------------


async def fan_out_figure(
    clients: Clients,
    counter: list[int],
    post: Callable[[aiohttp.ClientSession], Any],
    members: int,
    seconds: float,
) -> dict[str, Any]:
    """`CHANNEL_POSTERS` clients post for `seconds` (`post` answers None when acknowledged);
    then until every acknowledged post has reached every socket (or stalled 10 s)."""
    acked = [0]
    errors: Counter[str] = Counter()
    counter[0] = 0
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def poster() -> None:
            while time.perf_counter() < deadline:
                error = await post(session)
                if error is None:
                    acked[0] += 1
                else:
                    errors[error[:80]] += 1
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(poster() for _ in range(CHANNEL_POSTERS)))
        posted = time.perf_counter()
        expected = acked[0] * members
        seen, at, last = -1, time.monotonic(), time.perf_counter()
        while counter[0] < expected:
            if counter[0] != seen:
                seen, at, last = counter[0], time.monotonic(), time.perf_counter()
            elif time.monotonic() - at > 10.0:
                break
            await asyncio.sleep(0.005)
        else:
            last = time.perf_counter()
    return {
        "members": members,
        "posts_acked": acked[0],
        "post_errors": dict(errors),
        "posts_per_s": round(acked[0] / (posted - started), 1),
        "deliveries": counter[0],
        "missing": expected - counter[0],
        "deliveries_per_s": round(delivery_rate(counter[0], started, last), 1),
        "seconds": round(last - started, 3),
        "closes": dict(clients.closes),
    }


def counting(counter: list[int], frame_bytes: list[int]) -> OnFrame:
    """What `fan_out_figure` reads: `message.new` frames counted in `counter[0]`, the size of
    the first in `frame_bytes[0]`."""

    def on_frame(_i: int, data: str) -> None:
        if '"message.new"' in data:
            counter[0] += 1
            if not frame_bytes[0]:
                frame_bytes[0] = len(data.encode())

    return on_frame


async def channel_figure(
    platform: Platform,
    setup_tokens: Any,
    sizes: Sizes,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], int]:
    """The channel and its members (joined 4 at a time: one aggregate), all connected, then
    `fan_out_figure`; also the size of the frame each member read."""
    owner = str(uuid.uuid4())
    owner_token = access_tokens(setup_tokens, 1, [owner])[0]
    members = [str(uuid.uuid4()) for _ in range(sizes.channel_members)]
    tokens = access_tokens(setup_tokens, len(members), members)
    headers = bearer_headers([owner_token])[0]
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{platform.base_url}/v1/conversations",
            json={"kind": "channel", "name": "bench"},
            headers=headers,
        ) as resp:
            answer = await resp.json(content_type=None)
            if resp.status != 201:
                raise BenchSetupError(f"channel: {resp.status} {answer}")
            cid = answer["id"]
        say(f"figure 4: {len(members):,} members join the channel, 4 at a time")
        started = time.perf_counter()

        async def join(token: str) -> None:
            url = f"{platform.base_url}/v1/conversations/{cid}/join"
            async with session.post(url, headers=bearer_headers([token])[0]) as resp:
                if resp.status != 200:
                    raise BenchSetupError(f"join: {resp.status} {await resp.text()}")

        for k in range(0, len(tokens), 4):
            await asyncio.gather(*(join(t) for t in tokens[k : k + 4]))
        joins_per_s = len(tokens) / (time.perf_counter() - started)
    counter, frame_bytes = [0], [0]
    clients = Clients(platform.base_url, counting(counter, frame_bytes))
    try:
        await clients.open(tokens)
        url = messages_url(platform.base_url, cid)

        async def post(session: aiohttp.ClientSession) -> str | None:
            return await post_message(session, url, headers, MESSAGE_BODY)

        say(f"figure 4: the owner posts from {CHANNEL_POSTERS} clients, {len(members):,} read")
        result = await fan_out_figure(clients, counter, post, len(members), sizes.channel_seconds)
    finally:
        await clients.close()
    result["joins_per_s"] = round(joins_per_s, 1)
    result["frame_bytes"] = frame_bytes[0]
    return result, frame_bytes[0]


# --- figure 5: resume ---------------------------------------------------------------------


async def resume_figure(
    platform: Platform,
    infra: Any,
    watcher: PositionWatcher,
    setup_tokens: Any,
    sizes: Sizes,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """`resume_runs` times: the reader leaves, `resume_items` messages come over
    `RESUME_SENDERS` direct conversations, the reader comes back with its cursor."""
    reader = str(uuid.uuid4())
    reader_token = access_tokens(setup_tokens, 1, [reader])[0]
    await give_profiles(infra.pool, [reader])
    senders = access_tokens(setup_tokens, RESUME_SENDERS)
    async with aiohttp.ClientSession() as session:
        cids = [await start_direct(session, platform.base_url, t, reader) for t in senders]
    per_sender = sizes.resume_items // RESUME_SENDERS
    items = per_sender * RESUME_SENDERS
    runs: list[dict[str, Any]] = []
    for run in range(sizes.resume_runs):
        say(f"figure 5: run {run + 1}: {items} messages while the reader is away")
        gone = Clients(platform.base_url)
        await gone.open([reader_token])
        cursor = gone.cursors[0]
        await gone.close()
        async with aiohttp.ClientSession() as session:

            async def sender(token: str, cid: str) -> None:
                headers = bearer_headers([token])[0]
                for _ in range(per_sender):
                    error = await post_message(
                        session, messages_url(platform.base_url, cid), headers, MESSAGE_BODY
                    )
                    if error is not None:
                        raise BenchSetupError(f"resume: {error}")

            await asyncio.gather(*(sender(t, c) for t, c in zip(senders, cids, strict=True)))
        await caught_up(watcher, infra, "CHAT", ["live"], 120)

        floor_ms = await inbox_read_ms(infra.nc, reader, cursor, items)

        resume_ms = await reconnect_ms(platform.base_url, reader_token, cursor, items)
        runs.append(
            {
                "items": items,
                "resume_ms": resume_ms,
                "jetstream_read_ms": floor_ms,
            }
        )
    return {
        "runs": runs,
        "resume_ms": _r(percentile([r["resume_ms"] for r in runs], 50)),
        "jetstream_read_ms": _r(percentile([r["jetstream_read_ms"] for r in runs], 50)),
        "items": items,
    }


async def reconnect_ms(base_url: str, token: str, cursor: int, items: int) -> float:
    """Milliseconds from connecting with `cursor` (the `auth` frame follows the handshake at
    once) to reading the `items`th `message.new` item."""
    got = [0]
    done = asyncio.Event()
    end = [0.0]

    def on_frame(_i: int, data: str) -> None:
        if '"message.new"' in data:
            got[0] += 1
            if got[0] == items:
                end[0] = time.perf_counter()
                done.set()

    back = Clients(base_url, on_frame)
    started = time.perf_counter()
    try:
        await back.open([token], cursor=cursor)
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await back.close()
    return round((end[0] - started) * 1000, 2)


async def inbox_read_ms(nc: nats.NATS, user_id: str, cursor: int, items: int) -> float:
    """Milliseconds to read `items` items of `user_id`'s inbox after `cursor` with one
    ephemeral pull consumer, as the edge's catch-up does (created, read, deleted)."""
    js = nc.jetstream()
    name = f"bench_resume_{uuid.uuid4().hex}"
    started = time.perf_counter()
    await js.add_consumer(
        inbox.STREAM,
        ConsumerConfig(
            name=name,
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=cursor + 1,
            filter_subjects=[inbox.subject(user_id)],
            inactive_threshold=30.0,
            mem_storage=True,
            num_replicas=1,
        ),
    )
    puller = PullStream(nc, inbox.STREAM, name, max_batch=256)
    await puller.start()
    got = 0
    try:
        while got < items:
            msgs = await puller.next_chunk(timeout=5)
            if not msgs:
                raise BenchSetupError(f"the inbox held {got} of {items} items")
            got += sum(1 for m in msgs if b'"message.new"' in m.data)
    finally:
        await puller.stop()
        await js.delete_consumer(inbox.STREAM, name)
    return round((time.perf_counter() - started) * 1000, 2)
