"""Event types, their schema versions and the upcasters that lift old payloads on read.

Events are never rewritten (DESIGN §2): when an event's shape changes, its Struct gets a new
`schema` number and an upcaster from the previous number. Reading an old event runs the
chain of upcasters on its JSON payload before converting it to the current Struct.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from core.envelope import Envelope, RecordedEvent, decode_commit
from core.errors import ConfigError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every domain event. Subclasses set `name` (`<context>.<EventName>`) and, when
    their shape changes, bump `schema` and register an upcaster from the old number."""

    name: ClassVar[str]
    schema: ClassVar[int] = 1


@dataclass
class _EventType:
    cls: type[Event]
    schema: int
    decoder: msgspec.json.Decoder[Any]
    upcasters: dict[int, Upcaster] = field(default_factory=dict)


class UnknownEventType(Exception):
    """An event type nobody registered: a consumer must decide to skip or fail on it."""


class EventRegistry:
    """Maps event type names to Structs; one instance is built at bootstrap from every
    context's `EVENTS` tuple, so nothing registers itself at import time."""

    def __init__(self, events: Iterable[type[Event]] = ()) -> None:
        self._types: dict[str, _EventType] = {}
        self._encoder = msgspec.json.Encoder()
        for cls in events:
            self.register(cls)

    def register(self, cls: type[Event]) -> None:
        name = cls.name
        known = self._types.get(name)
        if known is not None and known.cls is not cls:
            raise ConfigError(f"event type {name!r} registered twice")
        self._types[name] = _EventType(cls, cls.schema, msgspec.json.Decoder(cls))

    def upcaster(self, name: str, from_schema: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator registering `fn(payload_dict) -> payload_dict` lifting `from_schema` to
        `from_schema + 1`."""

        def wrap(fn: Upcaster) -> Upcaster:
            self._types[name].upcasters[from_schema] = fn
            return fn

        return wrap

    def __contains__(self, name: str) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def encode_payload(self, event: Event) -> msgspec.Raw:
        return msgspec.Raw(self._encoder.encode(event))

    def decode(self, envelope: Envelope) -> Event:
        """The envelope's payload as its current Struct, upcasting old schema versions."""
        kind = self._types.get(envelope.type)
        if kind is None:
            raise UnknownEventType(envelope.type)
        if envelope.schema == kind.schema:
            return kind.decoder.decode(envelope.payload)
        if envelope.schema > kind.schema:
            raise UnknownEventType(
                f"{envelope.type} schema {envelope.schema} is newer than this code"
            )
        data = msgspec.json.decode(envelope.payload)
        for version in range(envelope.schema, kind.schema):
            lift = kind.upcasters.get(version)
            if lift is None:
                raise UnknownEventType(f"no upcaster for {envelope.type} schema {version}")
            data = lift(data)
        return msgspec.convert(data, kind.cls)

    def recorded(
        self, data: bytes, stream: str, seq: int, only: frozenset[str] | None = None
    ) -> list[RecordedEvent]:
        """The events of one stored commit with their positions; with `only`, just the
        events of those types (the others are never decoded)."""
        return [
            RecordedEvent(
                envelope=envelope, event=self.decode(envelope), stream=stream, seq=seq, index=index
            )
            for index, envelope in enumerate(decode_commit(data).events)
            if only is None or envelope.type in only
        ]
