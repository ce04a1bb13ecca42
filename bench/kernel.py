"""The kernel benchmark: `python -m bench kernel [--quick]`.

Five figures, each printed beside a ceiling (or floor) measured in the same run
(`bench/ceilings.py`), with the target from the design and whether it is met:

1. **Commands/s and latency through `POST /v1/posts`** with 1 and 64 concurrent clients.
   The platform runs as separate `quark run` processes (edge, posts handler, the posts and
   author_stats projections), as in production, so the figure includes every hop: HTTP in,
   NATS request to the handler, durable JetStream append, reply, HTTP out — while the
   projections consume the same commits. Each client sends sequentially over a keep-alive
   connection (closed loop), after a warm-up; the run is bounded in time and count. Each
   client (each wrk thread) is a user of its own with a real bearer token, minted by this
   process from the `signing_keys` ring the edge loads (`bench.environment.access_tokens`),
   so every command pays the edge's token check and Redis revocation lookup.
2. **Commit → read-model lag** at a steady 500 commands/s, offered open-loop through the
   same edge. For each command, lag is the time from the 201 (commit acknowledged) until the
   posts projection announces, on `quark.positions.posts`, a checkpoint at or past the
   reply's position — exactly what a read with `Quark-After` waits for. A notification
   that arrived before the 201 counts as zero lag (the read model was already there).
3. **Replay rate**: the platform is stopped, the CONTENT stream is recreated empty and
   filled with 200,000 `PostPublished` commits through `EventStore.append` (pipelined, on
   the same durable server, so the events are exactly what handlers write), then
   `core.replay.replay` rebuilds the posts read model from them — what `quark replay
   posts` does, in this process — and the row count is checked.
4. **Loading a 100-event aggregate**: one post with 1 `PublishPost` and 99 `EditPost`
   commits through `core.bus.execute`, then `EventStore.load` repeated with snapshots off
   (the figure) and on (an extra).
5. **The hub's cost** (`bench/hub_cost.py`): figure 1's 64-client rate in alternating rounds
   without the hub and with it running and one dashboard open.

While figure 1 runs with 64 clients, the CPU time of every process we started (and of the
whole machine) is sampled from /proc, and divided by the command rate: the CPU each process
spends per command is what has to shrink once the cores are busy.

Ceilings (throughput) and floors (latency) come from `bench/ceilings.py`: durable JetStream
publishes and a hello-world aiohttp server for figure 1, a one-row PostgreSQL commit for
figure 2, `COPY` and the raw stream read for figure 3, a raw-socket batch direct get for
figure 4. Ratios are value / ceiling for throughputs and value / floor for latencies.

The machine has two cores and the load generator shares them with the servers; so does the
hello-world ceiling, which is driven by the same client code and therefore comparable.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.aio.msg import Msg

from bench import ceilings
from bench.cpu import CpuMeter, metered_loop
from bench.environment import (
    Backends,
    BenchSetupError,
    Platform,
    access_tokens,
    set_up,
)
from bench.hub_cost import hub_cost_figure, hub_cost_text
from bench.loadgen import (
    LoopResult,
    bearer_headers,
    closed_loop,
    http_post_sender,
    median,
    open_loop,
    percentile,
    rounded,
    server_errors,
)
from bench.report import (
    fmt,
    fmt_ratio,
    footer,
    machine,
    ratio,
    render_table,
)
from bench.wrk import WrkResult, wrk_binary, wrk_loop
from core import streams as streams_mod
from core.bootstrap import Infra
from core.bus import execute
from core.commands import CommandMeta, parse_position
from core.envelope import AggregateRef, Commit, Envelope, encode_commit, utc_now
from core.eventstore import EventStore
from core.ids import new_id
from core.projection import POSITIONS_SUBJECT
from core.projection_pg import PgSink
from core.registry import EventRegistry
from core.replay import replay
from handlers import all_events
from handlers.posts import TABLE
from handlers.posts.commands import EditPost, PublishPost
from handlers.posts.decide import POST
from handlers.posts.events import PostPublished
from projections.posts import PostsProjection

#: From DESIGN.md and the kernel issue. Throughputs are floors, latencies ceilings.
TARGETS: dict[str, float] = {
    "commands_per_s_64": 3000,
    "p99_ms_64": 50,
    "p50_ms_1": 2,
    "lag_p50_ms": 5,
    "lag_p99_ms": 25,
    "replay_events_per_s": 50000,
    "aggregate_load_ms": 5,
}
HIGHER_IS_BETTER = {"commands_per_s_64", "commands_per_s_1", "replay_events_per_s"}

TITLE = "A benchmark post"
BODY = (
    "Event sourcing keeps every change as an immutable event; the read models are folds "
    "over the log and can be rebuilt at any time. This body is about as long as a typical "
    "social post, so that commits, rows and HTTP bodies have a realistic size."
)
HTTP_BODY = json.dumps({"title": TITLE, "body": BODY}).encode()


@dataclass(frozen=True)
class Sizes:
    warmup_seconds: float
    http_seconds: float
    http_max_requests: int
    lag_rate: float
    lag_seconds: float
    replay_events: int
    bulk_concurrency: int
    bulk_max_seconds: float
    load_repeat: int
    pg_commits: int
    overall_timeout: float
    overload_seconds: float
    #: The overload phase offers this many times the 64-client closed-loop rate.
    overload_factor: float


FULL = Sizes(
    warmup_seconds=2.0,
    http_seconds=10.0,
    http_max_requests=200_000,
    lag_rate=500.0,
    lag_seconds=10.0,
    replay_events=200_000,
    bulk_concurrency=256,
    bulk_max_seconds=240.0,
    load_repeat=500,
    pg_commits=1000,
    overall_timeout=600.0,
    overload_seconds=5.0,
    overload_factor=3.0,
)
QUICK = Sizes(
    warmup_seconds=0.5,
    http_seconds=3.0,
    http_max_requests=50_000,
    lag_rate=500.0,
    lag_seconds=3.0,
    replay_events=20_000,
    bulk_concurrency=256,
    bulk_max_seconds=60.0,
    load_repeat=100,
    pg_commits=200,
    overall_timeout=270.0,
    overload_seconds=2.0,
    overload_factor=3.0,
)


# --- helpers ------------------------------------------------------------------------------


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


# --- ceilings -----------------------------------------------------------------------------


async def measure_ceilings(
    backends: Backends,
    tmp: Path,
    sizes: Sizes,
    tokens: list[str],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The HTTP, JetStream and PostgreSQL-commit ceilings, before the platform starts (so
    nothing else competes for the cores). The hello-world server gets the same bearer
    headers as the edge, so both read requests of the same size."""
    out: dict[str, Any] = {}
    hello = ceilings.HelloServer(tmp)
    try:
        for clients in (1, 64):
            say(f"ceiling: aiohttp hello-world, {clients} client(s)")
            r = await ceilings.aiohttp_hello(
                hello.url,
                HTTP_BODY,
                tokens,
                clients=clients,
                seconds=sizes.http_seconds,
                max_requests=sizes.http_max_requests,
                warmup_seconds=sizes.warmup_seconds,
            )
            out[f"aiohttp_hello_{clients}"] = r
    finally:
        hello.stop()
    payload = _sample_commit()
    for publishers in (1, 64):
        say(f"ceiling: JetStream publish (durable), {publishers} publisher(s)")
        out[f"jetstream_{publishers}"] = await ceilings.jetstream_publish(
            backends.nats_url,
            payload,
            publishers=publishers,
            seconds=sizes.http_seconds,
            max_requests=sizes.http_max_requests,
            warmup_seconds=sizes.warmup_seconds,
        )
    say(f"floor: PostgreSQL one-row commits x {sizes.pg_commits}")
    out["pg_commit"] = await ceilings.pg_commit(backends.database_url, sizes.pg_commits)
    return out


def _sample_commit() -> bytes:
    """An encoded commit with one `PostPublished`, as a handler appends it (for payload size)."""
    registry = EventRegistry(all_events())
    post_id, author = new_id(), str(uuid.uuid4())
    event = PostPublished(
        post_id=post_id, author_id=author, title=TITLE, body=BODY, published_at=utc_now()
    )
    command_id = new_id()
    envelope = Envelope(
        id=new_id(),
        type=event.name,
        schema=event.schema,
        aggregate=AggregateRef(POST.type, post_id),
        occurred_at=utc_now(),
        actor=author,
        correlation_id=command_id,
        causation_id=command_id,
        payload=registry.encode_payload(event),
    )
    return encode_commit(Commit([envelope]))


# --- figures 1 and 2: through the platform ------------------------------------------------


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
            meter = CpuMeter(cpu_pids)
            meter.start()
            results[clients] = await wrk_loop(
                wrk, url, HTTP_BODY, tokens, clients=clients, seconds=sizes.http_seconds
            )
            if clients == 64:
                cores = meter.stop()
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


# --- figure 3: replay ---------------------------------------------------------------------


async def bulk_load(
    store: EventStore, count: int, concurrency: int, max_seconds: float
) -> dict[str, float]:
    """`count` PostPublished commits through `EventStore.append`, `concurrency` in flight."""
    authors = [str(uuid.uuid4()) for _ in range(1000)]
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker() -> None:
        nonlocal issued
        while issued < count and time.perf_counter() < deadline:
            author = authors[issued % len(authors)]
            issued += 1
            post_id = new_id()
            event = PostPublished(
                post_id=post_id, author_id=author, title=TITLE, body=BODY, published_at=utc_now()
            )
            await store.append(
                AggregateRef(POST.type, post_id), 0, [event], command_id=new_id(), actor=author
            )

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {"commits": issued, "seconds": round(seconds, 2), "per_s": round(issued / seconds, 1)}


async def replay_figure(
    infra: Infra, backends: Backends, sizes: Sizes, say: Callable[[str], None]
) -> dict[str, Any]:
    js = infra.nc.jetstream()
    await js.delete_stream("CONTENT")
    report = await streams_mod.apply(js, infra.decl)
    if not report.ok:
        raise BenchSetupError(f"could not recreate CONTENT: {report.refused}")
    say(
        f"figure 3: appending {sizes.replay_events:,} PostPublished commits "
        f"({sizes.bulk_concurrency} in flight, durable server)"
    )
    loaded = await bulk_load(
        infra.store, sizes.replay_events, sizes.bulk_concurrency, sizes.bulk_max_seconds
    )
    head = (await js.stream_info("CONTENT")).state.last_seq
    say(f"figure 3: loaded {loaded['commits']:,} commits at {loaded['per_s']:,.0f}/s")
    say("ceiling: bulk stream read (no decoding)")
    read = await ceilings.stream_read(backends.nats_url, "CONTENT", head)
    say("figure 3: replaying the posts projection")
    async with infra.pool.acquire() as conn:
        await ceilings.checkpoint(conn)
    projection = PostsProjection()
    sink = PgSink(projection, infra.pool, ["CONTENT"])
    rep = await replay(
        projection,
        sink,
        infra.nc,
        infra.registry,
        infra.decl.file.consumers[projection.name],
        backends.nats_url,
    )
    rows = await infra.pool.fetchval("SELECT count(*) FROM posts.posts")
    if rows != loaded["commits"]:
        raise BenchSetupError(f"replay produced {rows} posts for {loaded['commits']} commits")
    say(f"ceiling: PostgreSQL COPY of {loaded['commits']:,} rows")
    copy = await ceilings.pg_copy(backends.database_url, int(loaded["commits"]), TITLE, BODY)
    return {
        "bulk_load": loaded,
        "stream_read": read,
        "pg_copy": copy,
        "replay": {
            "messages": rep.messages,
            "events": rep.events,
            "seconds": round(rep.seconds, 3),
            "events_per_s": round(rep.events_per_s, 1),
            "rows": rows,
        },
    }


# --- figure 4: aggregate load -------------------------------------------------------------


async def load_figure(
    infra: Infra, nats_url: str, sizes: Sizes, say: Callable[[str], None]
) -> dict[str, Any]:
    store = infra.store
    author = str(uuid.uuid4())
    post_id = new_id()

    def meta() -> CommandMeta:
        return CommandMeta(
            command_id=new_id(),
            actor=author,
            roles=frozenset(),
            correlation_id=new_id(),
            received_at=utc_now(),
        )

    say("figure 4: building a post with 1 PublishPost + 99 EditPost commits")
    await execute(
        store, TABLE[PublishPost], PublishPost(post_id=post_id, title=TITLE, body=BODY), meta()
    )
    for i in range(1, 100):
        await execute(store, TABLE[EditPost], EditPost(post_id=post_id, title=f"Edit {i}"), meta())
    plain = dataclasses.replace(POST, snapshot_every=0)
    check = await store.load(plain, post_id)
    if check.events_since_snapshot != 100 or check.state.title != "Edit 99":
        raise BenchSetupError(f"expected 100 events, loaded {check.events_since_snapshot}")

    async def timed(kind: Any, repeat: int) -> list[float]:
        for _ in range(min(20, repeat)):
            await store.load(kind, post_id)
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            await store.load(kind, post_id)
            samples.append((time.perf_counter() - t0) * 1000)
        return samples

    say(f"figure 4: loading it {sizes.load_repeat} times, snapshots off and on")
    plain_ms = await timed(plain, sizes.load_repeat)
    snap = await store.load(POST, post_id)
    snap_ms = await timed(POST, sizes.load_repeat)
    say("floor: one batch direct get of the 100 messages (raw socket, then nats-py)")
    subject = f"ev.{POST.type}.{post_id}"
    floor = await ceilings.direct_get(
        nats_url, "CONTENT", subject, repeat=sizes.load_repeat, expected=100
    )
    via_client = await ceilings.direct_get_nats_py(
        infra.nc, "CONTENT", subject, repeat=sizes.load_repeat, expected=100
    )
    return {
        "events": check.events_since_snapshot,
        "median_ms": rounded(median(plain_ms)),
        "p99_ms": rounded(percentile(plain_ms, 99)),
        "with_snapshot_median_ms": rounded(median(snap_ms)),
        "with_snapshot_p99_ms": rounded(percentile(snap_ms, 99)),
        "with_snapshot_events_after_snapshot": snap.events_since_snapshot,
        "direct_get": floor,
        "direct_get_nats_py": via_client,
    }


# --- the run ------------------------------------------------------------------------------


#: Thousands of posts a second from 64 people: far past a person's hourly post quota
#: (`core/perks.py`), which is lifted for the run; the limiter itself still runs.
LIFTED: dict[str, str] = {"QUARK_PERKS_QUOTA_SCALE": "100000"}


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            say(f"settings lifted for the run: {LIFTED}")
            setup = await set_up(tmp, stack, say, extra_env=LIFTED)
            backends, platform, infra = setup.backends, setup.platform, setup.infra
            # One user per simulated client (64 at most), each with a token of its own.
            tokens = access_tokens(setup.tokens, 64)

            ceiling = await measure_ceilings(backends, tmp, sizes, tokens, say)

            positions = PositionLog()
            await infra.nc.subscribe(f"{POSITIONS_SUBJECT}.posts", cb=positions.on_msg)

            say(
                "starting the platform: quark run handler posts / projection posts / "
                "projection author_stats / edge"
            )
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            async with aiohttp.ClientSession() as session:
                await wait_platform(platform, session, infra.nc, tokens[0])
            commands, cores = await commands_figure(platform, sizes, tokens, platform.pids(), say)
            hub = await hub_cost_figure(
                platform, tokens, setup.tokens, HTTP_BODY, sizes.http_seconds / 2, say
            )
            lag = await lag_figure(platform, infra.nc, positions, sizes, tokens, say)
            overload = await overload_figure(
                platform, infra.store, sizes, tokens, commands[64].per_s, say
            )
            say("stopping the platform")
            await asyncio.to_thread(platform.stop)

            replayed = await replay_figure(infra, backends, sizes, say)
            aggregate = await load_figure(infra, backends.nats_url, sizes, say)
            say("cleaning up")
    result = assemble(
        sizes, quick, backends, ceiling, commands, cores, lag, overload, replayed, aggregate
    )
    result["hub_cost"] = hub
    return result


def assemble(
    sizes: Sizes,
    quick: bool,
    backends: Backends,
    ceiling: dict[str, Any],
    commands: dict[int, LoopResult],
    cores: dict[str, float],
    lag: dict[str, Any],
    overload: dict[str, Any],
    replayed: dict[str, Any],
    aggregate: dict[str, Any],
) -> dict[str, Any]:
    c1, c64 = commands[1], commands[64]
    js1, js64 = ceiling["jetstream_1"], ceiling["jetstream_64"]
    h1, h64 = ceiling["aiohttp_hello_1"], ceiling["aiohttp_hello_64"]
    pgc: LoopResult = ceiling["pg_commit"]
    figures: dict[str, float | None] = {
        "commands_per_s_64": round(c64.per_s, 1),
        "p99_ms_64": rounded(c64.p99_ms),
        "p50_ms_1": rounded(c1.p50_ms),
        "commands_per_s_1": round(c1.per_s, 1),
        "p50_ms_64": rounded(c64.p50_ms),
        "p99_ms_1": rounded(c1.p99_ms),
        "lag_p50_ms": lag["lag_p50_ms"],
        "lag_p99_ms": lag["lag_p99_ms"],
        "replay_events_per_s": replayed["replay"]["events_per_s"],
        "aggregate_load_ms": aggregate["median_ms"],
    }
    ceilings_out: dict[str, float | None] = {
        "jetstream_publish_per_s_64": round(js64.per_s, 1),
        "jetstream_publish_p50_ms_64": rounded(js64.p50_ms),
        "jetstream_publish_p99_ms_64": rounded(js64.p99_ms),
        "jetstream_publish_per_s_1": round(js1.per_s, 1),
        "jetstream_publish_p50_ms_1": rounded(js1.p50_ms),
        "jetstream_publish_p99_ms_1": rounded(js1.p99_ms),
        "aiohttp_hello_per_s": round(h64.per_s, 1),
        "aiohttp_hello_p50_ms_64": rounded(h64.p50_ms),
        "aiohttp_hello_p99_ms_64": rounded(h64.p99_ms),
        "aiohttp_hello_per_s_1": round(h1.per_s, 1),
        "aiohttp_hello_p50_ms_1": rounded(h1.p50_ms),
        "aiohttp_hello_p99_ms_1": rounded(h1.p99_ms),
        "pg_commit_p50_ms": rounded(pgc.p50_ms),
        "pg_commit_p99_ms": rounded(pgc.p99_ms),
        "pg_copy_rows_per_s": replayed["pg_copy"]["rows_per_s"],
        "stream_read_msgs_per_s": replayed["stream_read"]["msgs_per_s"],
        "direct_get_100_ms": rounded(aggregate["direct_get"]["median_ms"]),
        "direct_get_100_p99_ms": rounded(aggregate["direct_get"]["p99_ms"]),
        "direct_get_100_nats_py_ms": rounded(aggregate["direct_get_nats_py"]["median_ms"]),
    }
    floor_p50_1 = _sum(js1.p50_ms, h1.p50_ms)
    floor_p99_64 = _sum(js64.p99_ms, h64.p99_ms)
    ceilings_out["floor_p50_ms_1"] = rounded(floor_p50_1)
    ceilings_out["floor_p99_ms_64"] = rounded(floor_p99_64)

    ratios = {
        "commands_per_s_64_vs_jetstream": ratio(c64.per_s, js64.per_s),
        "commands_per_s_64_vs_aiohttp": ratio(c64.per_s, h64.per_s),
        "commands_per_s_1_vs_jetstream": ratio(c1.per_s, js1.per_s),
        "p99_ms_64_vs_floor": ratio(c64.p99_ms, floor_p99_64),
        "p50_ms_1_vs_floor": ratio(c1.p50_ms, floor_p50_1),
        "lag_p50_ms_vs_pg_commit": ratio(lag["lag_p50_ms"], pgc.p50_ms),
        "lag_p99_ms_vs_pg_commit": ratio(lag["lag_p99_ms"], pgc.p99_ms),
        "replay_events_per_s_vs_pg_copy": ratio(
            replayed["replay"]["events_per_s"], replayed["pg_copy"]["rows_per_s"]
        ),
        "replay_events_per_s_vs_stream_read": ratio(
            replayed["replay"]["events_per_s"], replayed["stream_read"]["msgs_per_s"]
        ),
        "aggregate_load_ms_vs_direct_get": ratio(
            aggregate["median_ms"], aggregate["direct_get"]["median_ms"]
        ),
        "aggregate_load_ms_vs_direct_get_nats_py": ratio(
            aggregate["median_ms"], aggregate["direct_get_nats_py"]["median_ms"]
        ),
    }
    met = {}
    for key, target in TARGETS.items():
        value = figures[key]
        met[key] = value is not None and (
            value >= target if key in HIGHER_IS_BETTER else value <= target
        )
    # Issue 8: no answer of class 5xx other than 503, in any phase.
    other_5xx = {
        "commands_1": server_errors(c1.error_kinds)["http_5xx_other_than_503"],
        "commands_64": server_errors(c64.error_kinds)["http_5xx_other_than_503"],
        "lag": lag["http_5xx_other_than_503"],
        "overload": overload["http_5xx_other_than_503"],
    }
    return {
        **figures,
        "http_5xx_other_than_503": other_5xx,
        "overload": overload,
        "ceilings": ceilings_out,
        "ratios": ratios,
        "targets": dict(TARGETS),
        "met": met,
        "details": {
            "commands_1": c1.summary() | {"first_error": c1.first_error},
            "commands_64": c64.summary() | {"first_error": c64.first_error},
            "cores_used_during_commands_64": cores,
            # CPU each process spends per command: what must shrink for more commands/s
            # once the machine is busy.
            "cpu_ms_per_command_64": {
                name: round(used / c64.per_s * 1000, 3) for name, used in cores.items()
            }
            if c64.per_s
            else {},
            "lag": lag,
            "replay": replayed,
            "aggregate_load": aggregate,
            "jetstream_publish_1": js1.summary(),
            "jetstream_publish_64": js64.summary(),
            "aiohttp_hello_1": h1.summary(),
            "aiohttp_hello_64": h64.summary(),
            "pg_commit": pgc.summary(),
        },
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": backends.origins,
        "load_generator": "wrk" if shutil.which("wrk") else "python (aiohttp client)",
        **machine(),
    }


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


# --- the report ---------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    c = result["ceilings"]
    r = result["ratios"]
    t = result["targets"]
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        label: str, key: str, unit: str, bound_label: str, bound: float | None, ratio_key: str
    ) -> None:
        value = result[key]
        target = t.get(key)
        if target is None:
            target_s, met_s = "-", "-"
        else:
            sign = ">=" if key in HIGHER_IS_BETTER else "<="
            target_s = f"{sign} {fmt(target, unit)}"
            met_s = "yes" if result["met"][key] else "NO"
        shown = r.get(ratio_key)
        rows.append(
            (
                label,
                fmt(value, unit),
                target_s,
                met_s,
                f"{fmt(bound, unit)} {bound_label}",
                fmt_ratio(shown),
            )
        )

    def extra(bound_label: str, bound: float | None, unit: str, ratio_key: str) -> None:
        shown = r.get(ratio_key)
        rows.append(
            (
                "",
                "",
                "",
                "",
                f"{fmt(bound, unit)} {bound_label}",
                fmt_ratio(shown),
            )
        )

    row(
        "commands/s, 64 clients",
        "commands_per_s_64",
        "/s",
        "JetStream publish, 64",
        c["jetstream_publish_per_s_64"],
        "commands_per_s_64_vs_jetstream",
    )
    extra("aiohttp hello, 64", c["aiohttp_hello_per_s"], "/s", "commands_per_s_64_vs_aiohttp")
    row(
        "p99 latency, 64 clients",
        "p99_ms_64",
        "ms",
        "floor: JS p99 + hello p99",
        c["floor_p99_ms_64"],
        "p99_ms_64_vs_floor",
    )
    row(
        "p50 latency, 1 client",
        "p50_ms_1",
        "ms",
        "floor: JS p50 + hello p50",
        c["floor_p50_ms_1"],
        "p50_ms_1_vs_floor",
    )
    row(
        "commands/s, 1 client",
        "commands_per_s_1",
        "/s",
        "JetStream publish, 1",
        c["jetstream_publish_per_s_1"],
        "commands_per_s_1_vs_jetstream",
    )
    row("p50 latency, 64 clients", "p50_ms_64", "ms", "", None, "")
    row("p99 latency, 1 client", "p99_ms_1", "ms", "", None, "")
    row(
        "lag p50 @ 500/s",
        "lag_p50_ms",
        "ms",
        "floor: PG commit p50",
        c["pg_commit_p50_ms"],
        "lag_p50_ms_vs_pg_commit",
    )
    row(
        "lag p99 @ 500/s",
        "lag_p99_ms",
        "ms",
        "floor: PG commit p99",
        c["pg_commit_p99_ms"],
        "lag_p99_ms_vs_pg_commit",
    )
    row(
        "replay events/s",
        "replay_events_per_s",
        "/s",
        "PG COPY rows",
        c["pg_copy_rows_per_s"],
        "replay_events_per_s_vs_pg_copy",
    )
    extra(
        "stream read msgs",
        c["stream_read_msgs_per_s"],
        "/s",
        "replay_events_per_s_vs_stream_read",
    )
    row(
        "100-event aggregate load",
        "aggregate_load_ms",
        "ms",
        "floor: direct get, raw",
        c["direct_get_100_ms"],
        "aggregate_load_ms_vs_direct_get",
    )
    extra(
        "direct get via nats-py",
        c["direct_get_100_nats_py_ms"],
        "ms",
        "aggregate_load_ms_vs_direct_get_nats_py",
    )
    headers = ("figure", "value", "target", "met?", "ceiling / floor", "ratio")
    return render_table(headers, rows, right={1, 2, 5})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    lag = d["lag"]
    rep = d["replay"]
    agg = d["aggregate_load"]
    lines = [
        "ratio: throughput = value / ceiling (1.00 = at the ceiling); "
        "latency = value / floor (1.00 = at the floor).",
        f"commands: 1 client {d['commands_1']['requests']:,} requests "
        f"({d['commands_1']['errors']} errors), 64 clients {d['commands_64']['requests']:,} "
        f"requests ({d['commands_64']['errors']} errors)",
        "cores used during 64-client commands: "
        + ", ".join(f"{k} {v:.2f}" for k, v in d["cores_used_during_commands_64"].items()),
        "CPU ms per command (64 clients): "
        + ", ".join(f"{k} {v:.3f}" for k, v in d["cpu_ms_per_command_64"].items()),
        f"lag run: offered {lag['offered_per_s']:.0f}/s, achieved {lag['achieved_per_s']:.0f}/s, "
        f"{lag['commands']:,} commands ({lag['errors']} errors); lag p90 {lag['lag_p90_ms']} ms, "
        f"max {lag['lag_max_ms']} ms; {lag['visible_before_reply']:,} visible before their 201; "
        f"HTTP p50 {lag['http_p50_ms']} ms, p99 {lag['http_p99_ms']} ms",
        f"overload: offered {result['overload']['offered_per_s']:.0f}/s (achieved "
        f"{result['overload']['achieved_per_s']:.0f}/s), {result['overload']['acknowledged']:,} "
        f"acknowledged ({result['overload']['acknowledged_per_s']:.0f}/s, p50 "
        f"{result['overload']['p50_ms_201']} ms, p99 {result['overload']['p99_ms_201']} ms), "
        f"{result['overload']['http_503']:,} answered 503; "
        f"{result['overload']['acknowledged_missing_from_the_log']} acknowledged missing from "
        "the log",
        "HTTP 5xx other than 503, per phase (must all be 0): "
        + ", ".join(f"{k} {v}" for k, v in result["http_5xx_other_than_503"].items()),
        f"replay: {rep['replay']['events']:,} events in {rep['replay']['seconds']:.2f}s; "
        f"bulk load {rep['bulk_load']['commits']:,} commits at {rep['bulk_load']['per_s']:,.0f}/s "
        f"through EventStore.append (durable server); "
        f"COPY {rep['pg_copy']['rows']:,} rows in {rep['pg_copy']['seconds']:.2f}s",
        f"aggregate load: median {agg['median_ms']} ms, p99 {agg['p99_ms']} ms without snapshot; "
        f"with snapshot median {agg['with_snapshot_median_ms']} ms, p99 "
        f"{agg['with_snapshot_p99_ms']} ms ({agg['with_snapshot_events_after_snapshot']} "
        "events after it)",
        f"JetStream publish: 1 publisher p50 {d['jetstream_publish_1']['p50_ms']} ms; "
        f"64 publishers p50 {d['jetstream_publish_64']['p50_ms']} ms, "
        f"p99 {d['jetstream_publish_64']['p99_ms']} ms",
        *([hub_cost_text(result["hub_cost"])] if "hub_cost" in result else []),
        *footer(result),
    ]
    return "\n".join(lines)
