"""The loop of a background worker that drains one durable JetStream pull consumer: the SMS
sender, the reactors, the media worker and the push sender share it.

What they share, and why it is one place: the consumer is created if missing (an existing
one with the same name is kept: a second copy of the worker shares it, and JetStream hands
each message to one of them); fetching waits at most a second, so a stop is noticed; NATS
being away only pauses the loop (a worker never gives up while its process lives); and a
stop cancels an idle fetch at once but lets a batch being handled finish (up to 15 s), then
unsubscribes, since an open pull subscription would hold up the connection's drain. What
each message means, and when it is acked, nak'ed or terminated, is the worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
from nats.js.api import ConsumerConfig

from core.logging import get_logger

log = get_logger("quark.worker")
#: How long a stopping loop lets the batch in hand finish (seconds).
STOP_SECONDS = 15.0


@dataclass
class ConsumerLoop:
    """Fetches batches of up to `batch` messages from the durable consumer `config`
    describes on `stream` and hands each batch to `handle`, until stopped."""

    js: Any
    stream: str
    config: ConsumerConfig
    handle: Callable[[list[Any]], Awaitable[None]]
    #: Names the loop's task and its log lines.
    name: str
    batch: int = 10
    _task: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _busy: bool = False

    async def start(self) -> None:
        with contextlib.suppress(nats.js.errors.BadRequestError):
            await self.js.add_consumer(self.stream, config=self.config)
        self._sub = await self.js.pull_subscribe_bind(
            durable=self.config.durable_name, stream=self.stream
        )
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            if not self._busy:
                self._task.cancel()  # idle in a fetch: nothing to finish
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, STOP_SECONDS)
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await self._sub.fetch(max(1, self.batch), timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:  # NATS away: wait and try again, never give up
                log.warning("consumer_fetch_failed", worker=self.name, error=repr(exc))
                await asyncio.sleep(1)
                continue
            self._busy = True
            try:
                await self.handle(msgs)
            finally:
                self._busy = False
