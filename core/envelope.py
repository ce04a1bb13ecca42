"""The event envelope (DESIGN §2) and the commit, the unit appended to JetStream.

A command's events travel together as one `Commit` — one JetStream message — so that a
command is atomic on every NATS version. A payload stays `msgspec.Raw` in the envelope and is
decoded (and upcast) only by the registry, so a consumer that ignores an event type never
pays for decoding it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec


class AggregateRef(msgspec.Struct, frozen=True):
    """Which aggregate an event belongs to: `type` is `<context>.<aggregate_type>`."""

    type: str
    id: str


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    type: str
    schema: int
    aggregate: AggregateRef
    occurred_at: datetime
    actor: str | None
    correlation_id: str
    causation_id: str
    payload: msgspec.Raw


class Commit(msgspec.Struct, frozen=True):
    """What one JetStream message holds: the events of one command, in order."""

    events: list[Envelope]


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event read back from the log: its envelope, its decoded (upcast) payload and its
    position (stream sequence of its commit, index inside the commit)."""

    envelope: Envelope
    event: Any
    stream: str
    seq: int
    index: int

    @property
    def type(self) -> str:
        return self.envelope.type


def utc_now() -> datetime:
    return datetime.now(UTC)


_commit_encoder = msgspec.json.Encoder()
_commit_decoder = msgspec.json.Decoder(Commit)


def encode_commit(commit: Commit) -> bytes:
    return _commit_encoder.encode(commit)


def decode_commit(data: bytes) -> Commit:
    return _commit_decoder.decode(data)
