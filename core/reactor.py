"""Reactors: a context acting on another context's events (its published contract) without
importing it — e.g. the profiles context freeing an erased person's handle.

A durable pull consumer delivers each matching commit at least once; the reaction must be
idempotent (derive its command id from the event's position), and it is acked only after it
succeeded. Failures are retried with growing delays; NATS being away only pauses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core.envelope import RecordedEvent
from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE
from core.registry import EventRegistry
from core.worker_loop import ConsumerLoop

log = get_logger("quark.reactor")
#: Delay before the n-th redelivery of a commit whose reaction failed (seconds).
BACKOFF = (1.0, 5.0, 30.0, 120.0)


@dataclass
class Reactor:
    js: Any
    registry: EventRegistry
    name: str
    stream: str
    filter_subject: str
    #: Event type names this reactor acts on; other events are not decoded.
    reacts_to: frozenset[str]
    react: Callable[[RecordedEvent], Awaitable[None]]
    _loop: ConsumerLoop | None = None

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.filter_subject,
            ack_wait=60,
        )
        self._loop = ConsumerLoop(
            self.js, self.stream, config, self._handle_batch, name=f"reactor-{self.name}", batch=50
        )
        await self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def _handle_batch(self, msgs: list[Any]) -> None:
        for msg in msgs:  # in order: reactions may depend on earlier ones
            await self._handle(msg)

    async def _handle(self, msg: Any) -> None:
        try:
            seq = msg.metadata.sequence.stream
            for recorded in self.registry.recorded(msg.data, self.stream, seq, self.reacts_to):
                await self.react(recorded)
        except Exception:
            attempt = msg.metadata.num_delivered
            log.exception("reaction_failed", reactor=self.name, attempt=attempt)
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await msg.nak(delay=BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
            return
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await msg.ack()
