"""Reactors: a context acting on another context's events (its published contract) without
importing it — e.g. the profiles context freeing an erased person's handle.

A durable pull consumer delivers each matching commit at least once; the reaction must be
idempotent (derive its command id from the event's position), and it is acked only after it
succeeded. Failures are retried with growing delays; NATS being away only pauses it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core.envelope import RecordedEvent
from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE
from core.registry import EventRegistry

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
    _task: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _busy: bool = False

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.filter_subject,
            ack_wait=60,
        )
        with contextlib.suppress(nats.js.errors.BadRequestError):
            await self.js.add_consumer(self.stream, config=config)
        self._sub = await self.js.pull_subscribe_bind(durable=self.name, stream=self.stream)
        self._task = asyncio.create_task(self._run(), name=f"reactor-{self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            if not self._busy:
                self._task.cancel()  # idle in a fetch: nothing to finish
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 15)
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await self._sub.fetch(50, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:  # NATS away: wait, never give up
                log.warning("reactor_fetch_failed", reactor=self.name, error=repr(exc))
                await asyncio.sleep(1)
                continue
            self._busy = True
            try:
                for msg in msgs:  # in order: reactions may depend on earlier ones
                    await self._handle(msg)
            finally:
                self._busy = False

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
