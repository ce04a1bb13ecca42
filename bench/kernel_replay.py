"""Figures 3 and 4 of the kernel bench: reading the log back, with the platform stopped.

Figure 3 rebuilds a read model: CONTENT is recreated empty, filled with `PostPublished`
commits through `EventStore.append` (`bulk_load`), and `core.replay.replay` rebuilds the
posts read model from them, beside the bulk stream read and a PostgreSQL `COPY` of as many
rows. Figure 4 loads one aggregate of 100 events through `EventStore.load`, snapshots off
and on, beside one batch direct get of the same messages. Both are replays — of a stream
into a read model, of an aggregate's events into its state — and both need a log of their
own, which is why they run after the command figures, once the platform is stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench import ceilings
from bench.environment import Backends, BenchSetupError
from bench.kernel_commands import BODY, TITLE
from bench.loadgen import median, percentile, rounded
from core import streams as streams_mod
from core.bootstrap import Infra
from core.bus import execute
from core.commands import CommandMeta
from core.envelope import AggregateRef, utc_now
from core.eventstore import EventStore
from core.ids import new_id
from core.projection_pg import PgSink
from core.replay import replay
from handlers.posts import TABLE
from handlers.posts.commands import EditPost, PublishPost
from handlers.posts.decide import POST
from handlers.posts.events import PostPublished
from projections.posts import PostsProjection

if TYPE_CHECKING:
    from bench.kernel import Sizes


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
