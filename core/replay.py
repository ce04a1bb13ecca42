"""Replay: rebuild a read model from sequence 1 into a new build with the bulk stream reader
while the live build keeps serving, then catch up the tail and switch under the lock the live
worker takes per batch (see `core.projection`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS

from core.envelope import RecordedEvent
from core.natsutil import NATS_UNAVAILABLE
from core.projection import POSITIONS_SUBJECT, Projection, Sink, subject_matches
from core.registry import EventRegistry
from core.streamreader import RawMessage, read_stream
from core.streams import ConsumerSpec, SourceSpec


@dataclass
class ReplayProgress:
    projection: str
    done: int = 0
    total: int = 0
    events: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0


@dataclass
class ReplayReport:
    projection: str
    build: int
    previous_build: int
    messages: int
    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def replay(
    projection: Projection,
    sink: Sink,
    nc: NATS,
    registry: EventRegistry,
    spec: ConsumerSpec,
    nats_url: str,
    *,
    on_progress: Callable[[ReplayProgress], None] | None = None,
    batch_events: int = 5000,
) -> ReplayReport:
    """Rebuild `projection` from the start of the log into a new build, then switch."""
    js = nc.jetstream()
    await sink.ensure()
    build = await sink.bulk_build()
    progress = ReplayProgress(projection.name)
    started = time.perf_counter()
    heads: dict[str, int] = {}
    for source in spec.sources:
        info = await js.stream_info(source.stream)
        heads[source.stream] = info.state.last_seq
        progress.total += max(0, info.state.last_seq - (info.state.first_seq or 1) + 1)
    messages = 0

    async def run_source(source: SourceSpec, end: int) -> None:
        nonlocal messages
        stream = source.stream
        start = await sink.checkpoint(build, stream) + 1
        if start > end:
            return
        single = source.filter_subjects[0] if len(source.filter_subjects) == 1 else None
        pending: list[RecordedEvent] = []
        last = start - 1
        consumes = projection.consumes
        # The reader runs ahead in its own task: while a batch commits in PostgreSQL, the
        # next chunks are received and parsed instead of the process sitting idle.
        chunks: asyncio.Queue[list[RawMessage] | None] = asyncio.Queue(maxsize=16)

        async def read() -> None:
            try:
                async for chunk in read_stream(nats_url, stream, start, end, subject=single, nc=nc):
                    await chunks.put(chunk)
            finally:
                await chunks.put(None)

        # Batches commit in log order in a task of their own, one behind the loop: while
        # PostgreSQL writes one, this process decodes and prepares the next (`prepare`:
        # the posts read model renders its Markdown there), instead of each side waiting
        # for the other.
        batches: asyncio.Queue[tuple[list[RecordedEvent], int] | None] = asyncio.Queue(1)

        async def write() -> None:
            while (batch := await batches.get()) is not None:
                events, upto = batch
                await sink.commit(build, stream, events, upto, live=False)
                progress.events += len(events)
                if on_progress:
                    on_progress(progress)

        reader = asyncio.create_task(read())
        writer = asyncio.create_task(write())

        async def hand_over(batch: tuple[list[RecordedEvent], int] | None) -> None:
            if batch is not None:
                sink.projection.prepare(batch[0])
            put = asyncio.ensure_future(batches.put(batch))
            await asyncio.wait({put, writer}, return_when=asyncio.FIRST_COMPLETED)
            if not put.done():  # the writer failed: its error is the replay's
                put.cancel()
                await writer

        try:
            while (chunk := await chunks.get()) is not None:
                messages += len(chunk)
                last = chunk[-1].seq
                for raw in chunk:
                    if single is None and not any(
                        subject_matches(f, raw.subject) for f in source.filter_subjects
                    ):
                        continue
                    pending.extend(registry.recorded(raw.data, stream, raw.seq, consumes))
                progress.done = messages
                if len(pending) >= batch_events:
                    await hand_over((pending, last))
                    pending = []
            await reader  # a reader error surfaces here
            # The last batch, even empty: it moves the checkpoint to the end of the range.
            await hand_over((pending, last))
            await hand_over(None)
            await writer
        finally:
            # On the error path the commit's exception is the one to report, not the
            # reader's cancellation (or its own failure).
            for task in (reader, writer):
                task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task

    for source in spec.sources:
        await run_source(source, heads[source.stream])
    await sink.bulk_loaded(build)

    async def catch_up() -> None:
        for source in spec.sources:
            info = await js.stream_info(source.stream)
            await run_source(source, info.state.last_seq)

    previous = await sink.switch(build, catch_up)
    for source in spec.sources:
        seq = await sink.checkpoint(build, source.stream)
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await nc.publish(
                f"{POSITIONS_SUBJECT}.{projection.name}", f"{source.stream} {seq}".encode()
            )
    if previous and previous != build:
        await sink.drop_build(previous)
    seconds = time.perf_counter() - started
    return ReplayReport(projection.name, build, previous, messages, progress.events, seconds)
