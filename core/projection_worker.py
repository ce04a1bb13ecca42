"""The live projection worker: one leader per read model, a pull loop per source stream,
batches retried event by event and poison events dead-lettered (see `core.projection`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core.bootstrap import Infra
from core.envelope import RecordedEvent
from core.logging import get_logger
from core.metrics import (
    PROJECTION_DEAD_LETTERS_TOTAL,
    PROJECTION_EVENTS_TOTAL,
    PROJECTION_LAG,
    PROJECTION_POSITION,
)
from core.natsutil import NATS_UNAVAILABLE
from core.projection import (
    POSITIONS_SUBJECT,
    TRANSIENT,
    BuildSwitched,
    PgProjection,
    Projection,
    RedisProjection,
    Sink,
    consumer_name,
)
from core.projection_pg import PgSink
from core.projection_redis import RedisSink
from core.pull import PullStream
from core.registry import EventRegistry, UnknownEventType
from core.replay import replay
from core.streams import ConsumerSpec, SourceSpec, parse_duration

log = get_logger("quark.projection")

#: The dead-letter stream (streams.yaml): `dlq.<projection>.<stream>`.
DLQ_STREAM = "DLQ"
#: A chunk holding none of the events a read model consumes (its source's subjects carry
#: other contexts' or other aggregates' events too) commits nothing: no transaction just to
#: move the checkpoint. Its position is published at once (readers waiting for it wake as
#: usual) and stored with the next commit, or after this many seconds; a restart re-reads
#: at most that much and skips it again.
SKIPPED_STORE_SECONDS = 2.0


@dataclass
class ProjectionWorker:
    """Runs one projection live: leader election, one pull loop per source stream."""

    projection: Projection
    sink: Sink
    nc: NATS
    registry: EventRegistry
    spec: ConsumerSpec
    nats_url: str = ""
    max_batch: int = 1000
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    #: Whether this copy holds the writer's lease (the others stand by), and the last
    #: position it applied per stream: what the hub shows of a read model's instance.
    leading: bool = False
    positions: dict[str, int] = field(default_factory=dict)
    retry_base_delay: float = 0.05

    @property
    def name(self) -> str:
        return self.projection.name

    async def run(self) -> None:
        """Until `stop()`: lead, apply, switch builds when a replay finishes."""
        js = self.nc.jetstream()
        await self.sink.ensure()
        lease = await self.sink.leadership()
        async with lease:
            self.leading = True
            try:
                active = await self.sink.active_build()
                if active is not None and active[1] != self.projection.version:
                    # The code's read model changed shape: rebuild it beside the old one.
                    log.info(
                        "projection_version_changed",
                        projection=self.name,
                        old=active[1],
                        new=self.projection.version,
                    )
                    await replay(
                        self.projection, self.sink, self.nc, self.registry, self.spec, self.nats_url
                    )
                while not self._stopping.is_set():
                    build = (await self.sink.active_build() or (await self.sink.ensure(), 0))[0]
                    tasks = [
                        asyncio.create_task(self._run_source(js, build, s))
                        for s in self.spec.sources
                    ]
                    stop_wait = asyncio.create_task(self._stopping.wait())
                    done, _ = await asyncio.wait(
                        [*tasks, stop_wait], return_when=asyncio.FIRST_COMPLETED
                    )
                    stop_wait.cancel()
                    for t in tasks:
                        if t not in done:
                            t.cancel()
                    results = await asyncio.gather(*tasks, return_exceptions=True)
                    errors = [
                        r
                        for r in results
                        if isinstance(r, BaseException)
                        and not isinstance(r, asyncio.CancelledError | BuildSwitched)
                    ]
                    if errors and not self._stopping.is_set():
                        raise errors[0]
                    if any(isinstance(r, BuildSwitched) for r in results):
                        old = build
                        for s in self.spec.sources:
                            with contextlib.suppress(Exception):
                                await js.delete_consumer(s.stream, consumer_name(self.name, old))
                        log.info("projection_build_switched", projection=self.name, old=old)
            finally:
                self.leading = False

    async def retry_dead_letter(self, body: bytes) -> dict[str, Any]:
        """Apply one dead-lettered event again (`{"dlq_seq": n}`): after a fix is deployed,
        the operator's retry from the hub. Only the writer may; the checkpoint stays."""
        if not self.leading:
            raise RuntimeError(f"this {self.name} instance stands by; ask the writer")
        seq = int(msgspec.json.decode(body, type=dict)["dlq_seq"])
        js = self.nc.jetstream()
        dead = await js.get_msg(DLQ_STREAM, seq)
        headers = dead.headers or {}
        if headers.get("Quark-Projection") != self.name:
            raise ValueError(f"dead letter {seq} is not one of {self.name}'s")
        stream, original = headers["Quark-Stream"], int(headers["Quark-Seq"])
        events = self.registry.recorded(
            dead.data or b"", stream, original, self.projection.consumes
        )
        active = await self.sink.active_build()
        if active is None:
            raise RuntimeError(f"{self.name} has no build yet")
        await self.sink.apply_again(active[0], stream, events)
        log.info("dead_letter_retried", projection=self.name, dlq_seq=seq, events=len(events))
        return {"applied": len(events), "stream": stream, "seq": original}

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait_stopping(self) -> None:
        await self._stopping.wait()

    async def _ensure_consumer(self, js: Any, build: int, source: SourceSpec) -> str:
        name = consumer_name(self.name, build)
        start = await self.sink.checkpoint(build, source.stream)
        config = ConsumerConfig(
            durable_name=name,
            ack_policy=AckPolicy.ALL,
            ack_wait=parse_duration(self.spec.ack_wait),
            max_ack_pending=self.spec.max_ack_pending,
            filter_subjects=list(source.filter_subjects),
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start else DeliverPolicy.ALL,
            opt_start_seq=start + 1 if start else None,
            max_deliver=-1,
        )
        # The checkpoint, not the consumer, says where this read model stands. A consumer
        # left by an earlier worker holds messages it delivered but nobody acknowledged
        # (pulled, not yet applied when the worker stopped or died); the server would
        # redeliver them only after ack_wait, stalling the projection that long. So the
        # leader starts every run from a consumer positioned at checkpoint + 1.
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(source.stream, name)
        await js.add_consumer(source.stream, config)
        return name

    async def _run_source(self, js: Any, build: int, source: SourceSpec) -> None:
        stream = source.stream
        name = await self._ensure_consumer(js, build, source)
        checkpoint = await self.sink.checkpoint(build, stream)
        PROJECTION_POSITION.labels(self.name, stream).set(checkpoint)
        puller = PullStream(self.nc, stream, name, max_batch=self.max_batch)
        await puller.start()
        loop = asyncio.get_running_loop()
        stored, stored_at = checkpoint, loop.time()
        try:
            while not self._stopping.is_set():
                msgs = await puller.next_chunk(timeout=1.0)
                due = loop.time() - stored_at >= SKIPPED_STORE_SECONDS
                if not msgs:
                    if due and stored < checkpoint:
                        await self.sink.commit(build, stream, [], checkpoint, live=True)
                        stored, stored_at = checkpoint, loop.time()
                    self.caught_up.set()
                    await self._publish_position(stream, checkpoint)
                    continue
                fresh = [m for m in msgs if m.metadata.sequence.stream > checkpoint]
                if fresh:
                    checkpoint, committed = await self._apply_messages(
                        build, stream, fresh, skip_empty=self.sink.skips_unconsumed and not due
                    )
                    if committed:
                        stored, stored_at = checkpoint, loop.time()
                # AckAll: acknowledging the last message acknowledges every one before it.
                with contextlib.suppress(*NATS_UNAVAILABLE):
                    await msgs[-1].ack()
                pending = msgs[-1].metadata.num_pending
                PROJECTION_LAG.labels(self.name, stream).set(pending)
                if pending == 0:
                    self.caught_up.set()
                await self._publish_position(stream, checkpoint)
        finally:
            await puller.stop()

    def _decode(self, stream: str, seq: int, data: bytes) -> list[RecordedEvent]:
        return self.registry.recorded(data, stream, seq, self.projection.consumes)

    async def _apply_messages(
        self, build: int, stream: str, msgs: Sequence[Any], *, skip_empty: bool
    ) -> tuple[int, bool]:
        """Apply a chunk in one transaction; on failure isolate the poison event. Answers
        the position reached and whether it was committed (with `skip_empty`, a chunk of
        nothing this read model consumes is not: see `SKIPPED_STORE_SECONDS`)."""
        last = msgs[-1].metadata.sequence.stream
        try:
            events = [
                e for m in msgs for e in self._decode(stream, m.metadata.sequence.stream, m.data)
            ]
            if events or not skip_empty:
                await self.sink.commit(build, stream, events, last, live=True)
            self._applied(stream, last, len(events))
            return last, bool(events) or not skip_empty
        except (BuildSwitched, *TRANSIENT):
            raise
        except Exception as exc:
            if len(msgs) == 1:
                return await self._retry_one(build, stream, msgs[0], exc), True
        checkpoint = 0
        for m in msgs:
            checkpoint = await self._retry_one(build, stream, m, None)
        return checkpoint, True

    async def _retry_one(
        self, build: int, stream: str, msg: Any, first_error: BaseException | None
    ) -> int:
        seq = msg.metadata.sequence.stream
        error: BaseException | None = first_error
        attempts = 1 if first_error is not None else 0
        while attempts < self.spec.max_deliver:
            if attempts:
                await asyncio.sleep(min(self.retry_base_delay * 2 ** (attempts - 1), 2.0))
            attempts += 1
            try:
                events = self._decode(stream, seq, msg.data)
                await self.sink.commit(build, stream, events, seq, live=True)
                self._applied(stream, seq, len(events))
                return seq
            except (BuildSwitched, *TRANSIENT):
                raise
            except Exception as exc:
                error = exc
        await self._dead_letter(stream, msg.subject, seq, msg.data, error)
        await self.sink.commit(build, stream, [], seq, live=True)
        self._applied(stream, seq, 0)
        return seq

    async def _dead_letter(
        self, stream: str, subject: str, seq: int, data: bytes, error: BaseException | None
    ) -> None:
        reason = f"{type(error).__name__}: {error}" if error else "unknown"
        if isinstance(error, UnknownEventType):
            reason = f"unknown event type {error}"
        log.error(
            "projection_dead_letter",
            projection=self.name,
            stream=stream,
            seq=seq,
            error=reason[:500],
        )
        PROJECTION_DEAD_LETTERS_TOTAL.labels(self.name).inc()
        js = self.nc.jetstream()
        await js.publish(
            f"dlq.{self.name}.{stream}",
            data,
            headers={
                "Nats-Msg-Id": f"dlq:{self.name}:{stream}:{seq}",
                "Quark-Projection": self.name,
                "Quark-Stream": stream,
                "Quark-Seq": str(seq),
                "Quark-Subject": subject,
                "Quark-Error": reason[:1000].replace("\r", " ").replace("\n", " "),
            },
        )

    def _applied(self, stream: str, seq: int, count: int) -> None:
        PROJECTION_POSITION.labels(self.name, stream).set(seq)
        if count:
            PROJECTION_EVENTS_TOTAL.labels(self.name).inc(count)

    async def _publish_position(self, stream: str, seq: int) -> None:
        self.positions[stream] = seq
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await self.nc.publish(f"{POSITIONS_SUBJECT}.{self.name}", f"{stream} {seq}".encode())


# ------------------------------------------------------------------------------------------
# Wiring a read model to its sink and worker
# ------------------------------------------------------------------------------------------


def sink_for(projection: Projection, infra: Infra) -> Sink:
    spec = infra.decl.file.consumers.get(projection.name)
    if spec is None:
        raise KeyError(f"streams.yaml declares no consumer for projection {projection.name!r}")
    streams = [s.stream for s in spec.sources]
    projection.vault = infra.vault
    projection.settings = infra.settings
    projection.js = infra.nc.jetstream()
    if isinstance(projection, PgProjection):
        return PgSink(projection, infra.pool, streams)
    if isinstance(projection, RedisProjection):
        return RedisSink(projection, infra.redis, streams, infra.settings.redis_prefix)
    raise TypeError(f"{projection.name}: unknown projection kind")


def checkpoint_lookups(
    infra: Infra, projections: dict[str, Projection]
) -> dict[str, Callable[[str], Awaitable[int | None]]]:
    """For read models whose checkpoint is not in PostgreSQL's `quark.checkpoints` (Redis):
    how to read the active build's checkpoint of a stream (read-your-writes waits on it)."""
    lookups: dict[str, Callable[[str], Awaitable[int | None]]] = {}
    for name, projection in projections.items():
        if isinstance(projection, PgProjection):
            continue
        sink = sink_for(projection, infra)

        streams = {s.stream for s in infra.decl.file.consumers[name].sources}

        async def lookup(stream: str, sink: Sink = sink, streams: set[str] = streams) -> int | None:
            if stream not in streams:
                return None  # this read model does not read that stream: nothing to wait for
            active = await sink.active_build()
            return 0 if active is None else await sink.checkpoint(active[0], stream)

        lookups[name] = lookup
    return lookups


def projection_worker(projection: Projection, infra: Infra) -> ProjectionWorker:
    return ProjectionWorker(
        projection=projection,
        sink=sink_for(projection, infra),
        nc=infra.nc,
        registry=infra.registry,
        spec=infra.decl.file.consumers[projection.name],
        nats_url=infra.settings.nats_url,
    )
