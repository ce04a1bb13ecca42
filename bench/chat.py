"""The messenger benchmark (issue 11): `python -m bench chat [--quick]`.

Five figures, each printed beside a ceiling (or floor) measured in the same run, as a ratio,
and beside the issue's target. The platform runs as separate `quark run` processes
(`WORKERS`: the chat handler, the chat and live projections, the profiles and follows
projections a direct message checks, the edge), with the message quota lifted (`LIFTED`);
the limiter still runs. Clients are real websockets of the live channel (docs/websocket.md),
held by this process, so the edge's memory is measured in a process of its own.

1. **Idle sockets held**: `idle_sockets` authenticated connections on one edge process, its
   RSS growth divided by their number. Ceiling (floor): the same clients held by a raw
   aiohttp websocket server (`bench/broadcast.py`), measured the same way. Target ≤ 30 KiB.
2. **Messages/s through the API**: `POST /v1/conversations/{id}/messages` at 64 clients, each
   a sender of their own in a direct conversation of their own. Ceilings: the aiohttp
   hello-world POST with the same Python client and body size, and durable JetStream
   appends at 64 publishers (every message is one such append).
3. **Send → delivered**: an open loop at `latency_rate` messages/s spread over `pairs` direct
   conversations, each timed from its POST (the message id is the client's, so the frame
   names it) to its recipient's socket reading the `message.new` item; p50, p99 and the
   rate achieved. Floor: the same client and rate relaying a frame of the same size through
   the raw server (`POST /v1/relay/{token}`: one HTTP hop and one websocket write).
4. **Channel deliveries/s**: a channel of `channel_members` members, all connected, its owner
   posting from 4 clients for `channel_seconds`; `message.new` frames counted at the
   clients until every acknowledged message has reached every member. Ceiling: the raw
   server broadcasting a frame of the same size to as many sockets of the same client
   code, driven by 4 clients the same way (`POST /v1/broadcast`). Target >= 0.5 x raw.
   Both sides are read by this one Python process: on a small machine the raw server's
   figure is what this client reads, not what the server can write, and it varies from run
   to run (the details print the posts/s and broadcasts/s behind each).
5. **Resume**: a reader with 10 direct conversations leaves; 500 messages arrive; it
   reconnects with its cursor: time from sending `auth` to reading the 500th item. Floor:
   reading the same 500 items of its inbox subject straight from JetStream with one
   ephemeral pull consumer (what the edge's catch-up itself reads).

People are cheap: access tokens are minted for random user ids (`access_tokens`); the
recipients of direct messages, whom the edge checks to be people, are given a profile row
written straight into the profiles read model (the seeding `bench.blog_search` does for
posts), instead of a sign-up that would measure argon2.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import msgspec
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench import ceilings
from bench.cpu import metered_loop
from bench.environment import (
    LIFTED,
    LOOPBACK,
    BenchSetupError,
    Child,
    Platform,
    access_tokens,
    caught_up,
    child_env,
    set_up,
    spawn,
    wait_for_port,
    watch_positions,
)
from bench.loadgen import LoopResult, bearer_headers, http_closed_loop, open_loop, percentile
from bench.loadgen import rounded as _r
from bench.report import cpu_ms_per_request, fmt, fmt_ratio, footer, machine, ratio, render_table
from core import embedded, inbox
from core.ids import new_id
from core.pull import PullStream
from edge.positions import PositionWatcher

#: The processes the figures need, in start order, the edge last.
WORKERS: tuple[tuple[str, ...], ...] = (
    ("handler", "chat"),
    ("projection", "chat"),
    ("projection", "live"),
    # A direct message checks blocks (follows) and that its members are people (profiles);
    # every message is screened with the word filter's rules.
    ("projection", "profiles,follows,word_filters"),
    ("edge",),
)
CLIENTS = 64
CHANNEL_POSTERS = 4
RESUME_SENDERS = 10
#: Sockets per aiohttp ClientSession (each with its own unlimited connector).
SOCKETS_PER_SESSION = 1000
MESSAGE_BODY = json.dumps(
    {"body": "Are we still on for tomorrow? I'll bring the maps and the thermos."}
).encode()
#: The issue's targets.
TARGET_KIB_PER_SOCKET = 30.0
TARGET_P50_MS = 5.0
TARGET_P99_MS = 25.0
TARGET_CHANNEL_RATIO = 0.5


@dataclass(frozen=True)
class Sizes:
    idle_sockets: int
    #: Direct conversations (sender, recipient) of figures 2 and 3.
    pairs: int
    warmup_seconds: float
    http_seconds: float
    http_max_requests: int
    latency_rate: float
    latency_seconds: float
    channel_members: int
    channel_seconds: float
    resume_items: int
    resume_runs: int
    overall_timeout: float


FULL = Sizes(
    idle_sockets=5_000,
    pairs=200,
    warmup_seconds=2.0,
    http_seconds=10.0,
    http_max_requests=200_000,
    latency_rate=1_000.0,
    latency_seconds=10.0,
    channel_members=1_000,
    channel_seconds=10.0,
    resume_items=500,
    resume_runs=3,
    overall_timeout=1500.0,
)
QUICK = Sizes(
    idle_sockets=500,
    pairs=CLIENTS,
    warmup_seconds=0.5,
    http_seconds=3.0,
    http_max_requests=50_000,
    latency_rate=200.0,
    latency_seconds=3.0,
    channel_members=200,
    channel_seconds=3.0,
    resume_items=500,
    resume_runs=1,
    overall_timeout=400.0,
)


# --- pure helpers -------------------------------------------------------------------------


def kib_per_socket(rss_before_kib: int, rss_after_kib: int, sockets: int) -> float | None:
    """RSS growth of a server process divided by the sockets it took on meanwhile."""
    return None if sockets <= 0 else round((rss_after_kib - rss_before_kib) / sockets, 2)


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


def delivery_rate(deliveries: int, started: float, last: float) -> float:
    """Deliveries a second from the first send (`started`) to the last delivery (`last`)."""
    return deliveries / (last - started) if deliveries and last > started else 0.0


# --- the clients --------------------------------------------------------------------------


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

#: What a client does with each text frame it reads: (socket index, the frame).
OnFrame = Callable[[int, str], None]


def _ignore(_i: int, _data: str) -> None:
    return None


@dataclass
class Clients:
    """Websocket clients of the live channel in this process: each sends `auth`, waits for
    `ready`, then reads every frame into `on_frame`. Spread over several ClientSessions with
    unlimited connectors (one session pools 100 connections by default). The same code
    drives the edge and the raw server."""

    base_url: str
    on_frame: OnFrame = _ignore
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    #: Closes the server made, by code (4008: too slow).
    closes: Counter[int] = field(default_factory=Counter)
    cursors: list[int] = field(default_factory=list)
    closing: bool = False

    async def open(
        self, tokens: Sequence[str], cursor: int | None = None, concurrency: int = 64
    ) -> float:
        """Connect one socket per token (`concurrency` handshakes at once); seconds taken."""
        gate = asyncio.Semaphore(concurrency)
        first = len(self.sockets)
        self.sockets.extend([None] * len(tokens))  # type: ignore[list-item]
        self.cursors.extend([0] * len(tokens))
        started = time.perf_counter()

        async def one(k: int, token: str) -> None:
            i = first + k
            async with gate:
                ws = await self._session(i).ws_connect("/v1/ws", autoping=True)
                auth = {"type": "auth", "token": token}
                if cursor is not None:
                    auth["cursor"] = cursor  # type: ignore[assignment]
                await ws.send_str(json.dumps(auth))
                ready = json.loads((await ws.receive(timeout=60)).data)
                if ready.get("type") != "ready":
                    raise BenchSetupError(f"socket {i}: {ready}")
                self.sockets[i], self.cursors[i] = ws, ready["cursor"]
                self.readers.append(asyncio.create_task(self._read(i, ws)))

        await asyncio.gather(*(one(k, t) for k, t in enumerate(tokens)))
        return time.perf_counter() - started

    def _session(self, i: int) -> aiohttp.ClientSession:
        while len(self.sessions) <= i // SOCKETS_PER_SESSION:
            self.sessions.append(
                aiohttp.ClientSession(
                    self.base_url, connector=aiohttp.TCPConnector(limit=0, force_close=False)
                )
            )
        return self.sessions[i // SOCKETS_PER_SESSION]

    async def _read(self, i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        on_frame = self.on_frame
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                on_frame(i, msg.data)
        if not self.closing:
            self.closes[ws.close_code or 0] += 1

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(ws.close() for ws in self.sockets if ws is not None))
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        for session in self.sessions:
            await session.close()
        self.sessions.clear()


class RawServer:
    """`bench/broadcast.py` in a child process on a free port."""

    def __init__(self, tmp: Path) -> None:
        self.port = embedded.free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.child: Child = spawn(
            "raw websocket server",
            [sys.executable, "-m", "bench.broadcast", str(self.port)],
            child_env({}),
            tmp / "logs",
        )
        try:
            wait_for_port(self.child, self.port)
        except Exception:
            self.child.stop()
            raise

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def stop(self) -> None:
        self.child.stop()


def rss_kib(pid: int) -> int:
    """A process's resident set (VmRSS), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchSetupError(f"no VmRSS for pid {pid}")


def raise_open_files(wanted: int) -> int:
    """Lift this process's open-files limit (the children inherit it) toward `wanted`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- setting up ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A direct conversation: who sends, who receives (and the tokens of both)."""

    sender: str
    recipient: str
    sender_token: str
    recipient_token: str
    conversation_id: str = ""


async def give_profiles(pool: asyncpg.Pool, user_ids: Sequence[str], timeout: float = 30) -> None:
    """A profile row for each of `user_ids` in the profiles read model (once its projection
    has made its tables): enough for the edge to take them as people to message."""
    deadline = time.monotonic() + timeout
    while not await pool.fetchval("SELECT to_regclass('profiles.profiles') IS NOT NULL"):
        if time.monotonic() > deadline:
            raise BenchSetupError("the profiles projection made no table")
        await asyncio.sleep(0.1)
    await pool.executemany(
        "INSERT INTO profiles.profiles (user_id, display_name, updated_at) "
        "VALUES ($1::uuid, $2, now()) ON CONFLICT DO NOTHING",
        [(u, f"Reader {n}") for n, u in enumerate(user_ids)],
    )


async def start_direct(
    session: aiohttp.ClientSession, base_url: str, token: str, other: str
) -> str:
    """`POST /v1/conversations` of kind direct; the conversation's id."""
    body = {"kind": "direct", "members": [other]}
    headers = bearer_headers([token])[0]
    async with session.post(f"{base_url}/v1/conversations", json=body, headers=headers) as resp:
        answer = await resp.json(content_type=None)
        if resp.status not in (200, 201):
            raise BenchSetupError(f"POST /v1/conversations answered {resp.status}: {answer}")
        return str(answer["id"])


async def make_pairs(
    setup_tokens: Any, pool: asyncpg.Pool, base_url: str, count: int
) -> list[Pair]:
    """`count` direct conversations between people of their own, 16 started at once."""
    senders = [str(uuid.uuid4()) for _ in range(count)]
    recipients = [str(uuid.uuid4()) for _ in range(count)]
    await give_profiles(pool, recipients)
    s_tokens = access_tokens(setup_tokens, count, senders)
    r_tokens = access_tokens(setup_tokens, count, recipients)
    pairs = [Pair(*x) for x in zip(senders, recipients, s_tokens, r_tokens, strict=True)]
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as session:

        async def start(p: Pair) -> Pair:
            async with gate:
                cid = await start_direct(session, base_url, p.sender_token, p.recipient)
                return dataclasses.replace(p, conversation_id=cid)

        return list(await asyncio.gather(*(start(p) for p in pairs)))


async def wait_platform(
    platform: Platform, nc: nats.NATS, session: aiohttp.ClientSession, timeout: float = 60
) -> None:
    """Until the edge is ready and the chat handler serves every command."""
    await platform.wait_ready(session, timeout)
    await platform.wait_handlers(nc, timeout)


async def post_message(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes
) -> str | None:
    async with session.post(url, data=body, headers=headers) as resp:
        text = await resp.read()
        if resp.status != 201:
            return f"HTTP {resp.status}: {text[:200]!r}"
    return None


def messages_url(base_url: str, conversation_id: str) -> str:
    return f"{base_url}/v1/conversations/{conversation_id}/messages"


# --- figure 1: idle sockets ---------------------------------------------------------------


async def idle_figure(
    base_url: str, pid: int, tokens: Sequence[str], say: Callable[[str], None], label: str
) -> dict[str, Any]:
    """Connect a few sockets and drop them (the server's first connections allocate what
    every later one shares), then hold `tokens` sockets and read the server's RSS growth."""
    warm = Clients(base_url)
    await warm.open(tokens[:50])
    await warm.close()
    await asyncio.sleep(1.0)  # the server finishes the warm-up sessions' cleanup
    before = rss_kib(pid)
    clients = Clients(base_url)
    try:
        say(f"figure 1: {len(tokens):,} idle sockets on the {label}")
        seconds = await clients.open(tokens)
        await asyncio.sleep(2.0)  # idle: the sessions' tasks reach their waits
        after = rss_kib(pid)
        still_open = sum(1 for ws in clients.sockets if ws is not None and not ws.closed)
    finally:
        await clients.close()
    return {
        "sockets": len(tokens),
        "open_at_measure": still_open,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_socket": kib_per_socket(before, after, len(tokens)),
        "connects_per_s": round(len(tokens) / seconds, 1),
        "closes": dict(clients.closes),
    }


# --- figure 2: messages/s -----------------------------------------------------------------


async def messages_figure(
    platform: Platform, pairs: Sequence[Pair], sizes: Sizes, say: Callable[[str], None]
) -> tuple[LoopResult, dict[str, float]]:
    say(f"figure 2: POST /v1/conversations/{{id}}/messages, {CLIENTS} senders")
    urls = [messages_url(platform.base_url, p.conversation_id) for p in pairs[:CLIENTS]]
    headers = bearer_headers([p.sender_token for p in pairs[:CLIENTS]])
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(i: int) -> str | None:
            return await post_message(session, urls[i], headers[i], MESSAGE_BODY)

        return await metered_loop(
            send,
            platform.pids(),
            clients=CLIENTS,
            seconds=sizes.http_seconds,
            max_requests=sizes.http_max_requests,
            warmup_seconds=sizes.warmup_seconds,
        )


# --- figure 3: send -> delivered ----------------------------------------------------------


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


def _counting(counter: list[int], frame_bytes: list[int]) -> OnFrame:
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
    clients = Clients(platform.base_url, _counting(counter, frame_bytes))
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


async def raw_channel_figure(
    raw: RawServer, members: int, frame_bytes: int, seconds: float
) -> dict[str, Any]:
    counter, seen = [0], [0]
    clients = Clients(raw.base_url, _counting(counter, seen))
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


# --- the run ------------------------------------------------------------------------------


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    # Two sockets per client connection in this process (client and loopback peer are in
    # different processes, but the bench holds the channel's and the idle figure's at once
    # at worst), plus NATS, PostgreSQL and Redis connections.
    limit = raise_open_files(2 * sizes.idle_sockets + 4096)
    say(f"open files: {limit:,}; settings lifted for the run: {LIFTED}")
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            setup = await set_up(tmp, stack, say, WORKERS, LIFTED)
            backends, platform, infra = setup.backends, setup.platform, setup.infra
            tokens = access_tokens(setup.tokens, CLIENTS)

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
                backends.nats_url,
                b"x" * 512,
                publishers=CLIENTS,
                seconds=sizes.http_seconds,
                max_requests=sizes.http_max_requests,
                warmup_seconds=sizes.warmup_seconds,
            )

            watcher = await watch_positions(infra, stack)

            say("starting the platform: " + " / ".join(" ".join(w) for w in WORKERS))
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            edge_pid = platform.children[-1].process.pid
            async with aiohttp.ClientSession() as session:
                await wait_platform(platform, infra.nc, session)
            say(f"setting up {sizes.pairs} direct conversations")
            pairs = await make_pairs(setup.tokens, infra.pool, platform.base_url, sizes.pairs)

            idle_tokens = access_tokens(setup.tokens, sizes.idle_sockets)
            idle = await idle_figure(platform.base_url, edge_pid, idle_tokens, say, "edge")
            platform.check_alive()

            messages, cores = await messages_figure(platform, pairs, sizes, say)
            say("waiting for the chat and live projections to apply the messages")
            await caught_up(watcher, infra, "CHAT", ["chat", "live"], 300)

            say(
                f"figure 3: send -> delivered at {sizes.latency_rate:,.0f}/s over "
                f"{len(pairs)} direct conversations"
            )

            async def via_edge(session: aiohttp.ClientSession, i: int, mid: str) -> str | None:
                p = pairs[i % len(pairs)]
                body = json.dumps({"id": mid, "body": "On my way, see you at the station."})
                url = messages_url(platform.base_url, p.conversation_id)
                return await post_message(
                    session, url, bearer_headers([p.sender_token])[0], body.encode()
                )

            latency = await latency_figure(
                platform.base_url,
                [p.recipient_token for p in pairs],
                via_edge,
                sizes.latency_rate,
                sizes.latency_seconds,
                sizes.warmup_seconds,
            )
            await caught_up(watcher, infra, "CHAT", ["chat", "live"], 300)
            # Past what the platform sustains, figure 3 measures a queue; at half the rate
            # of figure 2 it measures the path itself.
            calm_rate = float(round(min(sizes.latency_rate, messages.per_s / 2))) or 1.0
            say(f"figure 3: send -> delivered at {calm_rate:,.0f}/s (half of figure 2)")
            calm = await latency_figure(
                platform.base_url,
                [p.recipient_token for p in pairs],
                via_edge,
                calm_rate,
                sizes.latency_seconds,
                sizes.warmup_seconds,
            )
            await caught_up(watcher, infra, "CHAT", ["chat", "live"], 300)
            resume = await resume_figure(platform, infra, watcher, setup.tokens, sizes, say)
            channel, frame_bytes = await channel_figure(platform, setup.tokens, sizes, say)
            platform.check_alive()
            say("stopping the platform")
            await asyncio.to_thread(platform.stop)

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
                size = latency["frame_bytes"] or 400

                async def via_raw(session: aiohttp.ClientSession, i: int, mid: str) -> str | None:
                    url = f"{raw.base_url}/v1/relay/r{i % len(pairs)}"
                    return await post_message(session, url, {}, padded_frame(size, mid))

                raw_latency = await latency_figure(
                    raw.base_url,
                    [f"r{n}" for n in range(len(pairs))],
                    via_raw,
                    sizes.latency_rate,
                    sizes.latency_seconds,
                    sizes.warmup_seconds,
                )
                say(f"ceiling: raw broadcast to {sizes.channel_members:,} sockets")
                raw_channel = await raw_channel_figure(
                    raw, sizes.channel_members, frame_bytes or size, sizes.channel_seconds
                )
            finally:
                raw.stop()
            say("cleaning up")
    return assemble(
        sizes,
        quick,
        backends.origins,
        idle,
        raw_idle,
        messages,
        cores,
        hello,
        jetstream,
        latency,
        calm,
        raw_latency,
        channel,
        raw_channel,
        resume,
    )


def assemble(
    sizes: Sizes,
    quick: bool,
    origins: dict[str, str],
    idle: dict[str, Any],
    raw_idle: dict[str, Any],
    messages: LoopResult,
    cores: dict[str, float],
    hello: LoopResult,
    jetstream: LoopResult,
    latency: dict[str, Any],
    calm: dict[str, Any],
    raw_latency: dict[str, Any],
    channel: dict[str, Any],
    raw_channel: dict[str, Any],
    resume: dict[str, Any],
) -> dict[str, Any]:
    figures = {
        "kib_per_idle_socket": idle["kib_per_socket"],
        "messages_per_s_64": round(messages.per_s, 1),
        "messages_p50_ms_64": _r(messages.p50_ms),
        "messages_p99_ms_64": _r(messages.p99_ms),
        "delivered_p50_ms": latency["p50_ms"],
        "delivered_p99_ms": latency["p99_ms"],
        "delivered_per_s": latency["delivered_per_s"],
        "calm_rate_per_s": calm["offered_per_s"],
        "calm_delivered_p50_ms": calm["p50_ms"],
        "calm_delivered_p99_ms": calm["p99_ms"],
        "channel_deliveries_per_s": channel["deliveries_per_s"],
        "resume_ms": resume["resume_ms"],
    }
    bounds = {
        "raw_kib_per_idle_socket": raw_idle["kib_per_socket"],
        "aiohttp_hello_per_s_64": round(hello.per_s, 1),
        "jetstream_publish_per_s_64": round(jetstream.per_s, 1),
        "raw_relay_p50_ms": raw_latency["p50_ms"],
        "raw_relay_p99_ms": raw_latency["p99_ms"],
        "raw_relay_per_s": raw_latency["delivered_per_s"],
        "raw_broadcast_deliveries_per_s": raw_channel["deliveries_per_s"],
        "jetstream_read_ms": resume["jetstream_read_ms"],
    }
    ratios = {
        "idle_vs_raw": ratio(idle["kib_per_socket"], raw_idle["kib_per_socket"]),
        "messages_vs_hello": ratio(messages.per_s, hello.per_s),
        "messages_vs_jetstream": ratio(messages.per_s, jetstream.per_s),
        "delivered_p50_vs_raw": ratio(latency["p50_ms"], raw_latency["p50_ms"]),
        "delivered_p99_vs_raw": ratio(latency["p99_ms"], raw_latency["p99_ms"]),
        "delivered_rate_vs_raw": ratio(latency["delivered_per_s"], raw_latency["delivered_per_s"]),
        "calm_p50_vs_raw": ratio(calm["p50_ms"], raw_latency["p50_ms"]),
        "calm_p99_vs_raw": ratio(calm["p99_ms"], raw_latency["p99_ms"]),
        "channel_vs_raw": ratio(channel["deliveries_per_s"], raw_channel["deliveries_per_s"]),
        "resume_vs_jetstream": ratio(resume["resume_ms"], resume["jetstream_read_ms"]),
    }
    return {
        **figures,
        "ceilings": bounds,
        "ratios": ratios,
        "details": {
            "idle": idle,
            "raw_idle": raw_idle,
            "messages_64": messages.summary()
            | {"first_error": messages.first_error, "error_kinds": dict(messages.error_kinds)},
            "cpu_ms_per_message_64": cpu_ms_per_request(cores, messages.per_s),
            "aiohttp_hello_64": hello.summary(),
            "jetstream_publish_64": jetstream.summary(),
            "latency": latency,
            "latency_at_half_capacity": calm,
            "raw_latency": raw_latency,
            "channel": channel,
            "raw_channel": raw_channel,
            "resume": resume,
        },
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": origins,
        "load_generator": "python (aiohttp client, websockets in the bench process)",
        **machine(),
    }


# --- the report ---------------------------------------------------------------------------


def _kib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} KiB"


def table(result: dict[str, Any]) -> str:
    c, r, d = result["ceilings"], result["ratios"], result["details"]
    s = result["sizes"]
    lat = d["latency"]
    rows = [
        (
            f"edge memory per idle socket, {d['idle']['sockets']:,} sockets",
            _kib(result["kib_per_idle_socket"]),
            f"{_kib(c['raw_kib_per_idle_socket'])} raw aiohttp ws",
            fmt_ratio(r["idle_vs_raw"]),
            f"<= {TARGET_KIB_PER_SOCKET:.0f} KiB",
        ),
        (
            f"messages/s via POST, {CLIENTS} senders (DMs)",
            fmt(result["messages_per_s_64"], "/s"),
            f"{fmt(c['aiohttp_hello_per_s_64'], '/s')} aiohttp hello POST",
            fmt_ratio(r["messages_vs_hello"]),
            "",
        ),
        (
            "",
            "",
            f"{fmt(c['jetstream_publish_per_s_64'], '/s')} JetStream appends",
            fmt_ratio(r["messages_vs_jetstream"]),
            "",
        ),
        (
            f"send -> delivered p50 at {s['latency_rate']:,.0f}/s offered",
            fmt(result["delivered_p50_ms"], "ms"),
            f"{fmt(c['raw_relay_p50_ms'], 'ms')} raw relay p50",
            fmt_ratio(r["delivered_p50_vs_raw"]),
            f"<= {TARGET_P50_MS:.0f} ms",
        ),
        (
            "send -> delivered p99",
            fmt(result["delivered_p99_ms"], "ms"),
            f"{fmt(c['raw_relay_p99_ms'], 'ms')} raw relay p99",
            fmt_ratio(r["delivered_p99_vs_raw"]),
            f"<= {TARGET_P99_MS:.0f} ms",
        ),
        (
            f"  achieved delivery rate ({lat['missing']} missing)",
            fmt(result["delivered_per_s"], "/s"),
            f"{fmt(c['raw_relay_per_s'], '/s')} raw relay",
            fmt_ratio(r["delivered_rate_vs_raw"]),
            f"{s['latency_rate']:,.0f}/s",
        ),
        (
            f"send -> delivered p50 at {result['calm_rate_per_s']:,.0f}/s (half fig. 2)",
            fmt(result["calm_delivered_p50_ms"], "ms"),
            f"{fmt(c['raw_relay_p50_ms'], 'ms')} raw relay p50",
            fmt_ratio(r["calm_p50_vs_raw"]),
            f"<= {TARGET_P50_MS:.0f} ms",
        ),
        (
            "send -> delivered p99 (half fig. 2)",
            fmt(result["calm_delivered_p99_ms"], "ms"),
            f"{fmt(c['raw_relay_p99_ms'], 'ms')} raw relay p99",
            fmt_ratio(r["calm_p99_vs_raw"]),
            f"<= {TARGET_P99_MS:.0f} ms",
        ),
        (
            f"channel deliveries/s, {d['channel']['members']:,} members",
            fmt(result["channel_deliveries_per_s"], "/s"),
            f"{fmt(c['raw_broadcast_deliveries_per_s'], '/s')} raw broadcast",
            fmt_ratio(r["channel_vs_raw"]),
            f">= {TARGET_CHANNEL_RATIO} x raw",
        ),
        (
            f"resume: auth -> {d['resume']['items']}th missed item",
            fmt(result["resume_ms"], "ms"),
            f"{fmt(c['jetstream_read_ms'], 'ms')} JetStream read of them",
            fmt_ratio(r["resume_vs_jetstream"]),
            "",
        ),
    ]
    headers = ("figure", "value", "ceiling / floor (same run)", "ratio", "target")
    return render_table(headers, rows, right={1, 3})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    idle, raw_idle, lat, raw_lat = d["idle"], d["raw_idle"], d["latency"], d["raw_latency"]
    ch, raw_ch = d["channel"], d["raw_channel"]

    def top(cpu: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())

    lines = [
        "ratio: throughput = value / ceiling; latency and memory = value / floor.",
        f"idle sockets: edge RSS {idle['rss_before_mib']} -> {idle['rss_after_mib']} MiB for "
        f"{idle['sockets']:,} sockets ({idle['open_at_measure']:,} open when measured), "
        f"{idle['connects_per_s']:,.0f} connects/s; raw server {raw_idle['rss_before_mib']} -> "
        f"{raw_idle['rss_after_mib']} MiB, {raw_idle['connects_per_s']:,.0f} connects/s",
        f"messages: {d['messages_64']['requests']:,} in the measured run, "
        f"{d['messages_64']['errors']} errors {d['messages_64']['error_kinds']}",
        "CPU ms per message (64 senders): " + top(d["cpu_ms_per_message_64"]),
        f"send -> delivered: {lat['sent']:,} sent ({lat['send_errors']} errors), "
        f"{lat['delivered']:,} delivered, max {lat['max_ms']} ms, frames of "
        f"{lat['frame_bytes']} bytes; raw relay {raw_lat['delivered']:,} delivered, "
        f"max {raw_lat['max_ms']} ms",
        f"send -> delivered at half of figure 2: {d['latency_at_half_capacity']['sent']:,} "
        f"sent, {d['latency_at_half_capacity']['delivered']:,} delivered "
        f"({d['latency_at_half_capacity']['delivered_per_s']:,.0f}/s), max "
        f"{d['latency_at_half_capacity']['max_ms']} ms",
        f"channel: {ch['posts_acked']:,} posts acknowledged ({ch['posts_per_s']:,.0f}/s), "
        f"{ch['deliveries']:,} deliveries ({ch['missing']:,} missing) in {ch['seconds']} s, "
        f"closes {ch['closes']}, joins {ch['joins_per_s']:,.0f}/s; raw: "
        f"{raw_ch['posts_acked']:,} broadcasts, {raw_ch['deliveries']:,} deliveries in "
        f"{raw_ch['seconds']} s, frames of {raw_ch['frame_bytes']} bytes",
        "resume runs: "
        + "; ".join(
            f"{x['resume_ms']} ms (JetStream {x['jetstream_read_ms']} ms)"
            for x in d["resume"]["runs"]
        ),
        *footer(result),
    ]
    return "\n".join(lines)
