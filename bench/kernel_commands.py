"""Figures 1 and 2 of the kernel bench and its overload phase: commands through the platform.

Every figure here sends `POST /v1/posts` through the edge (`bench.kernel` says how each is
measured and against which ceiling): commands/s and latency in a closed loop
(`commands_figure`, with wrk where it is installed), commit → read-model lag at a steady
open-loop rate (`lag_figure`, timed against the posts projection's announcements that
`PositionLog` keeps), and more than the platform can take (`overload_figure`: 201 or 503,
never another 5xx, and every 201 in the log).

The post every command sends (`TITLE`, `BODY`, `HTTP_BODY`), `wait_platform` and
`commands_figure` live here rather than in the suite because the blog and moderation suites
measure their command rates with the same pieces, so their figures compare with these.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import nats
from nats.aio.msg import Msg

from bench.cpu import CpuMeter, metered_loop
from bench.environment import BenchSetupError, Platform
from bench.loadgen import (
    LoopResult,
    bearer_headers,
    closed_loop,
    http_post_sender,
    open_loop,
    percentile,
    rounded,
    server_errors,
)
from bench.wrk import WrkResult, wrk_binary, wrk_loop
from core.commands import parse_position
from core.eventstore import EventStore
from core.projection import POSITIONS_SUBJECT
from handlers.posts.decide import POST

if TYPE_CHECKING:
    from bench.kernel import Sizes

TITLE = "A benchmark post"
BODY = (
    "Event sourcing keeps every change as an immutable event; the read models are folds "
    "over the log and can be rebuilt at any time. This body is about as long as a typical "
    "social post, so that commits, rows and HTTP bodies have a realistic size."
)
HTTP_BODY = json.dumps({"title": TITLE, "body": BODY}).encode()


class PositionLog:
    """Every checkpoint a projection announces on `quark.positions.<name>`, with the time it
    reached us. Sequences are kept as a running maximum so a bisect finds the first
    announcement at or past any position."""

    def __init__(self, stream: str = "CONTENT") -> None:
        self.stream = stream
        self.times: list[float] = []
        self.seqs: list[int] = []
        self._changed = asyncio.Event()

    @property
    def latest(self) -> int:
        return self.seqs[-1] if self.seqs else -1

    async def on_msg(self, msg: Msg) -> None:
        now = time.perf_counter()
        stream, _, seq_text = msg.data.decode().partition(" ")
        if stream != self.stream or not seq_text.isdigit():
            return
        self.times.append(now)
        self.seqs.append(max(int(seq_text), self.latest))
        self._changed.set()

    async def wait_until(self, seq: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.latest < seq:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def first_at_or_after(self, seq: int) -> float | None:
        i = bisect.bisect_left(self.seqs, seq)
        return self.times[i] if i < len(self.seqs) else None


async def wait_platform(
    platform: Platform,
    session: aiohttp.ClientSession,
    nc: nats.NATS,
    token: str,
    timeout: float = 60.0,
) -> None:
    """Until the edge answers, a command commits and both projections announce a position."""
    seen: set[str] = set()

    async def on_position(msg: Msg) -> None:
        seen.add(msg.subject.rsplit(".", 1)[-1])

    sub = await nc.subscribe(f"{POSITIONS_SUBJECT}.*", cb=on_position)
    try:
        await platform.wait_ready(session, timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = ""
        while loop.time() < deadline:
            platform.check_alive()
            async with session.post(
                f"{platform.base_url}/v1/posts", data=HTTP_BODY, headers=bearer_headers([token])[0]
            ) as resp:
                last = f"HTTP {resp.status}: {(await resp.text())[:200]}"
                if resp.status == 201:
                    break
            await asyncio.sleep(0.2)
        else:
            raise BenchSetupError(f"the first command did not commit: {last}")
        while {"posts", "author_stats"} - seen:
            platform.check_alive()
            if loop.time() > deadline:
                raise BenchSetupError(f"projections not running; announced: {sorted(seen)}")
            await asyncio.sleep(0.1)
    finally:
        await sub.unsubscribe()


async def commands_figure(
    platform: Platform,
    sizes: Sizes,
    tokens: list[str],
    cpu_pids: dict[str, int],
    say: Callable[[str], None],
    *,
    use_wrk: bool = True,
) -> tuple[dict[int, LoopResult | WrkResult], dict[str, float]]:
    """POST /v1/posts in a closed loop; each client (each wrk thread) is a user of its own.
    With `use_wrk` false the Python load generator runs even where wrk is installed: for a
    suite that compares this rate with a figure of its own taken with that generator."""
    results: dict[int, LoopResult | WrkResult] = {}
    cores: dict[str, float] = {}
    url = f"{platform.base_url}/v1/posts"
    wrk = wrk_binary() if use_wrk else None
    for clients in (1, 64):
        say(
            f"figure 1: POST /v1/posts, {clients} client(s), load from {'wrk' if wrk else 'Python'}"
        )
        if wrk:
            # Warm-up separately so the CPU sample covers the measured part only.
            await wrk_loop(
                wrk, url, HTTP_BODY, tokens, clients=clients, seconds=sizes.warmup_seconds
            )
            meter = CpuMeter(cpu_pids, f"commands {clients} clients")
            meter.start()
            results[clients] = await wrk_loop(
                wrk, url, HTTP_BODY, tokens, clients=clients, seconds=sizes.http_seconds
            )
            used = meter.stop()
            if clients == 64:
                cores = used
            platform.check_alive()
            continue
        headers = bearer_headers(tokens[:clients])
        connector = aiohttp.TCPConnector(limit=clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            send = http_post_sender(session, url, HTTP_BODY, headers)
            results[clients], used = await metered_loop(
                send,
                cpu_pids,
                clients=clients,
                seconds=sizes.http_seconds,
                max_requests=sizes.http_max_requests,
                warmup_seconds=sizes.warmup_seconds,
                label=f"commands {clients} clients",
            )
            if clients == 64:
                cores = used
        platform.check_alive()
    return results, cores


async def lag_figure(
    platform: Platform,
    nc: nats.NATS,
    positions: PositionLog,
    sizes: Sizes,
    tokens: list[str],
    say: Callable[[str], None],
) -> dict[str, Any]:
    js = nc.jetstream()
    acks: list[tuple[float, int]] = []
    latencies: list[float] = []
    headers = bearer_headers(tokens[:64])
    url = f"{platform.base_url}/v1/posts"
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Open the connections first, so the first commands do not pay the TCP handshakes.
        await closed_loop(
            http_post_sender(session, url, HTTP_BODY, headers),
            clients=64,
            seconds=0.5,
            max_requests=640,
        )
        head = (await js.stream_info("CONTENT")).state.last_seq
        say(f"figure 2: waiting for the posts projection to reach CONTENT:{head}")
        if not await positions.wait_until(head, 180):
            raise BenchSetupError(
                f"the posts projection did not catch up with CONTENT:{head} (at {positions.latest})"
            )
        say(f"figure 2: {sizes.lag_rate:.0f} commands/s for {sizes.lag_seconds:.0f}s, open loop")

        async def send(i: int) -> str | None:
            t0 = time.perf_counter()
            async with session.post(url, data=HTTP_BODY, headers=headers[i % 64]) as resp:
                await resp.read()
                t_ack = time.perf_counter()
                if resp.status != 201:
                    return f"HTTP {resp.status}"
                _, seq = parse_position(resp.headers["Quark-Position"])
            acks.append((t_ack, seq))
            latencies.append((t_ack - t0) * 1000)
            return None

        offered = await open_loop(send, rate=sizes.lag_rate, seconds=sizes.lag_seconds)
    last = max((seq for _, seq in acks), default=0)
    if not await positions.wait_until(last, 60):
        raise BenchSetupError(f"the posts projection never reached CONTENT:{last}")
    lags: list[float] = []
    before_reply = 0
    for t_ack, seq in acks:
        t_seen = positions.first_at_or_after(seq)
        assert t_seen is not None
        if t_seen <= t_ack:
            before_reply += 1
        lags.append(max(0.0, t_seen - t_ack) * 1000)
    return {
        "offered_per_s": offered.offered_per_s,
        "achieved_per_s": round(offered.achieved_per_s, 1),
        "commands": len(acks),
        "errors": offered.errors,
        "first_error": offered.first_error,
        **server_errors(offered.error_kinds),
        "lag_p50_ms": rounded(percentile(lags, 50)),
        "lag_p90_ms": rounded(percentile(lags, 90)),
        "lag_p99_ms": rounded(percentile(lags, 99)),
        "lag_max_ms": rounded(max(lags, default=None)),
        "visible_before_reply": before_reply,
        "http_p50_ms": rounded(percentile(latencies, 50)),
        "http_p99_ms": rounded(percentile(latencies, 99)),
    }


async def overload_figure(
    platform: Platform,
    store: EventStore,
    sizes: Sizes,
    tokens: list[str],
    capacity_per_s: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """More than the platform can take: open loop at `overload_factor` x the 64-client
    closed-loop rate. Every answer must be 201 or 503 (the edge and the handler shed what
    they cannot take, at once, with Retry-After), never another 5xx; every 201 must be in
    the log."""
    rate = max(500.0, capacity_per_s * sizes.overload_factor)
    say(f"overload: {rate:.0f} commands/s offered for {sizes.overload_seconds:.0f}s, open loop")
    headers = bearer_headers(tokens[:64])
    url = f"{platform.base_url}/v1/posts"
    acked: list[str] = []
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(i: int) -> str | None:
            t0 = time.perf_counter()
            async with session.post(url, data=HTTP_BODY, headers=headers[i % 64]) as resp:
                body = await resp.read()
                if resp.status != 201:
                    return f"HTTP {resp.status}"
            latencies.append((time.perf_counter() - t0) * 1000)
            acked.append(json.loads(body)["id"])
            return None

        offered = await open_loop(send, rate=rate, seconds=sizes.overload_seconds)
    missing = 0
    for post_id in acked:
        if not (await store.load(POST, post_id)).state.exists:
            missing += 1
    return {
        "offered_per_s": round(rate, 1),
        "achieved_per_s": round(offered.achieved_per_s, 1),
        "sent": offered.sent,
        "acknowledged": len(acked),
        "acknowledged_per_s": round(len(acked) / sizes.overload_seconds, 1),
        "errors": offered.errors,
        "error_kinds": dict(offered.error_kinds),
        **server_errors(offered.error_kinds),
        "acknowledged_missing_from_the_log": missing,
        "p50_ms_201": rounded(percentile(latencies, 50)),
        "p99_ms_201": rounded(percentile(latencies, 99)),
    }
