"""The event store: aggregates' histories kept in JetStream, one subject per aggregate.

- `append` publishes one commit (one message) with `Nats-Expected-Last-Subject-Sequence`
  (optimistic concurrency) and `Nats-Msg-Id` = the command id (deduplication).
- `load` reads an aggregate's subject with one batch direct get (after an optional
  snapshot; on the lean connection of `core.directget`, nats-py when it cannot) and folds
  it with the aggregate's `evolve`. It also returns which command ids
  produced the commits it read: the server checks the expected sequence *before* its
  duplicate window, so a retried command meets a concurrency conflict, and the handler
  recognises its own earlier commit from this map instead of deciding twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from core.directget import DirectGets, DirectGetUnavailable
from core.envelope import (
    AggregateRef,
    Commit,
    Envelope,
    RecordedEvent,
    encode_commit,
    utc_now,
)
from core.errors import ConcurrencyError, ConfigError
from core.ids import new_id
from core.natsutil import NATS_UNAVAILABLE, ReplyMux, status_of, unavailable
from core.registry import Event, EventRegistry

S = TypeVar("S")

#: JetStream's error code for "wrong last sequence" (expected-sequence check failed).
WRONG_LAST_SEQUENCE = 10071
#: How many command ids a snapshot remembers for idempotent retries.
SNAPSHOT_COMMAND_MEMORY = 64
_BATCH = 1000


@dataclass(frozen=True)
class AggregateKind(Generic[S]):
    """How to rebuild one kind of aggregate: its type name, initial state and `evolve`.

    `snapshot_every` > 0 stores a snapshot in the KV bucket after that many events since the
    last one; `state_type` must then be a msgspec-encodable type, and bumping
    `state_version` invalidates old snapshots when the state's shape changes.
    """

    type: str  # "<context>.<aggregate_type>", e.g. "posts.post"
    initial: Callable[[], S]
    evolve: Callable[[S, Any], S]
    state_type: Any = None
    snapshot_every: int = 0
    state_version: int = 1

    @property
    def context(self) -> str:
        return self.type.split(".", 1)[0]


@dataclass
class Loaded(Generic[S]):
    """An aggregate as of `seq` (its subject's last sequence; 0 when it has no events)."""

    ref: AggregateRef
    state: S
    seq: int
    events_since_snapshot: int
    commands: dict[str, int]  # command id -> sequence of the commit it produced


@dataclass(frozen=True)
class AppendResult:
    stream: str
    seq: int
    duplicate: bool


class _Snapshot(msgspec.Struct):
    seq: int
    state_version: int
    state: msgspec.Raw
    commands: dict[str, int]


class StreamMap:
    """Which stream stores a context's events (from `streams.yaml`)."""

    def __init__(self, context_streams: dict[str, str]) -> None:
        self._by_context = dict(context_streams)

    def stream_for(self, context: str) -> str:
        try:
            return self._by_context[context]
        except KeyError:
            raise ConfigError(
                f"no stream in streams.yaml holds events of context {context!r}"
            ) from None

    def contexts(self) -> dict[str, str]:
        return dict(self._by_context)


def subject_of(ref: AggregateRef) -> str:
    return f"ev.{ref.type}.{ref.id}"


class EventStore:
    """Appends commits and loads aggregates. Built once at bootstrap and passed in."""

    def __init__(
        self,
        nc: NATS,
        registry: EventRegistry,
        streams: StreamMap,
        *,
        snapshots: KeyValue | None = None,
        timeout: float = 5.0,
        direct: DirectGets | None = None,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=timeout)
        self.registry = registry
        self.streams = streams
        self._snapshots = snapshots
        self._timeout = timeout
        self._mux = ReplyMux(nc)
        #: The lean path for loads (`core.directget`); nats-py answers when it cannot.
        self._direct = direct
        self._encoder = msgspec.json.Encoder()

    async def start(self) -> None:
        await self._mux.start()

    async def stop(self) -> None:
        await self._mux.stop()
        if self._direct is not None:
            await self._direct.close()

    # -- writing ---------------------------------------------------------------------------

    def envelope(
        self,
        ref: AggregateRef,
        event: Event,
        *,
        command_id: str,
        actor: str | None,
        correlation_id: str,
    ) -> Envelope:
        return Envelope(
            id=new_id(),
            type=event.name,
            schema=event.schema,
            aggregate=ref,
            occurred_at=utc_now(),
            actor=actor,
            correlation_id=correlation_id,
            causation_id=command_id,
            payload=self.registry.encode_payload(event),
        )

    async def append(
        self,
        ref: AggregateRef,
        expected_seq: int,
        events: Sequence[Event],
        *,
        command_id: str,
        actor: str | None = None,
        correlation_id: str | None = None,
    ) -> AppendResult:
        """Append `events` as one commit if the aggregate is still at `expected_seq`.

        Raises:
            ConcurrencyError: the aggregate has moved on (reload and decide again).
            UnavailableError: NATS did not confirm the append; its outcome is unknown, and
                retrying with the same `command_id` is safe.
        """
        if not events:
            raise ValueError("a commit needs at least one event")
        correlation = correlation_id or command_id
        commit = Commit(
            [
                self.envelope(
                    ref, e, command_id=command_id, actor=actor, correlation_id=correlation
                )
                for e in events
            ]
        )
        subject = subject_of(ref)
        stream = self.streams.stream_for(ref.type.split(".", 1)[0])
        headers = {
            "Nats-Msg-Id": command_id,
            "Nats-Expected-Last-Subject-Sequence": str(expected_seq),
            "Quark-Correlation-Id": correlation,
        }
        try:
            ack = await self.js.publish(
                subject, encode_commit(commit), timeout=self._timeout, headers=headers
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise ConcurrencyError(subject, expected_seq) from None
            raise
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        return AppendResult(stream=ack.stream or stream, seq=ack.seq, duplicate=bool(ack.duplicate))

    # -- reading ---------------------------------------------------------------------------

    async def load(self, kind: AggregateKind[S], aggregate_id: str) -> Loaded[S]:
        """Rebuild an aggregate from its snapshot (if any) and the commits after it."""
        ref = AggregateRef(kind.type, aggregate_id)
        stream = self.streams.stream_for(kind.context)
        state = kind.initial()
        start = 1
        commands: dict[str, int] = {}
        snapshot = await self._read_snapshot(kind, aggregate_id) if kind.snapshot_every else None
        if snapshot is not None:
            state = msgspec.json.decode(snapshot.state, type=kind.state_type)
            start = snapshot.seq + 1
            commands = dict(snapshot.commands)
        last_seq = snapshot.seq if snapshot else 0
        count = 0
        async for seq, msg_id, data in self._read_subject(stream, subject_of(ref), start):
            for recorded in self.registry.recorded(data, stream, seq):
                state = kind.evolve(state, recorded.event)
                count += 1
            if msg_id:
                commands[msg_id] = seq
            last_seq = seq
        return Loaded(ref, state, last_seq, count, commands)

    async def read_subject(self, stream: str, subject: str, start: int = 1) -> list[RecordedEvent]:
        """Every event on `subject` from sequence `start` (tooling and tests)."""
        out: list[RecordedEvent] = []
        async for seq, _msg_id, data in self._read_subject(stream, subject, start):
            out.extend(self.registry.recorded(data, stream, seq))
        return out

    async def _read_subject(self, stream: str, subject: str, start: int):
        """Yield (seq, msg id, commit bytes) of every message on `subject` from `start`, using
        batch direct gets (one request per 1,000 messages): on the lean connection when
        there is one, through nats-py when it cannot answer."""
        if self._direct is not None and self._direct.usable:
            seq = start
            try:
                while True:
                    batch = await self._direct.subject(stream, subject, seq, _BATCH)
                    for item in batch:
                        yield item
                    if len(batch) < _BATCH:
                        return
                    seq = batch[-1][0] + 1
            except DirectGetUnavailable:
                # Logged once by `core.directget` (a failure, not each load it sends here).
                start = seq  # what was yielded stays yielded: nats-py goes on from there
        seq = start
        while True:
            request = self._encoder.encode({"seq": seq, "next_by_subj": subject, "batch": _BATCH})
            received = 0
            try:
                async with self._mux.request(f"$JS.API.DIRECT.GET.{stream}", request) as queue:
                    while True:
                        msg = await asyncio.wait_for(queue.get(), self._timeout)
                        status = status_of(msg)
                        if status is not None:
                            if status in ("204", "404"):
                                break
                            raise nats.js.errors.APIError(
                                code=int(status), description=str(msg.headers)
                            )
                        hdrs = msg.headers or {}
                        msg_seq = int(hdrs["Nats-Sequence"])
                        received += 1
                        yield msg_seq, hdrs.get("Nats-Msg-Id"), msg.data
                        seq = msg_seq + 1
            except NATS_UNAVAILABLE as exc:
                raise unavailable(exc) from None
            if received < _BATCH:
                return

    # -- snapshots -------------------------------------------------------------------------

    @staticmethod
    def _snapshot_key(kind: AggregateKind[Any], aggregate_id: str) -> str:
        return f"{kind.type}.{aggregate_id}"

    async def _read_snapshot(self, kind: AggregateKind[Any], aggregate_id: str) -> _Snapshot | None:
        if self._snapshots is None:
            return None
        try:
            entry = await self._snapshots.get(self._snapshot_key(kind, aggregate_id))
        except nats.js.errors.KeyNotFoundError:
            return None
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        if not entry.value:
            return None
        snapshot = msgspec.json.decode(entry.value, type=_Snapshot)
        if snapshot.state_version != kind.state_version:
            return None  # the state's shape changed: rebuild from the log
        return snapshot

    async def maybe_snapshot(
        self,
        kind: AggregateKind[S],
        loaded: Loaded[S],
        state: S,
        seq: int,
        command_id: str,
        new_events: int,
    ) -> None:
        """Store a snapshot when enough events accumulated since the last one.

        A lost snapshot write costs only a longer load, never correctness, so failures are
        ignored: the log stays the truth.
        """
        if not kind.snapshot_every or self._snapshots is None:
            return
        if loaded.events_since_snapshot + new_events < kind.snapshot_every:
            return
        commands = dict(loaded.commands)
        commands[command_id] = seq
        if len(commands) > SNAPSHOT_COMMAND_MEMORY:
            commands = dict(
                sorted(commands.items(), key=lambda kv: kv[1])[-SNAPSHOT_COMMAND_MEMORY:]
            )
        snapshot = _Snapshot(
            seq=seq,
            state_version=kind.state_version,
            state=msgspec.Raw(self._encoder.encode(state)),
            commands=commands,
        )
        try:
            await self._snapshots.put(
                self._snapshot_key(kind, loaded.ref.id), self._encoder.encode(snapshot)
            )
        except Exception:
            return
