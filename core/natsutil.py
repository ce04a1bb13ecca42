"""Small JetStream helpers nats-py does not offer: multi-message request/reply (batch direct
get) over one shared inbox subscription, and translation of client errors into ours."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from core.errors import UnavailableError

#: Client-side failures meaning "NATS or JetStream did not answer": the outcome is unknown.
NATS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    asyncio.TimeoutError,
)


def unavailable(exc: BaseException) -> UnavailableError:
    return UnavailableError(f"NATS did not answer ({type(exc).__name__})")


class ReplyMux:
    """Routes replies of multi-message requests to per-request queues.

    One wildcard subscription serves every request, so a request costs one PUB and no
    SUB/UNSUB round of its own (what makes loading an aggregate cheap).
    """

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox()
        self._queues: dict[str, asyncio.Queue[Msg]] = {}
        self._sub: Subscription | None = None
        self._counter = 0

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_msg)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        queue = self._queues.get(msg.subject)
        if queue is not None:
            queue.put_nowait(msg)

    @contextlib.asynccontextmanager
    async def request(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> AsyncIterator[asyncio.Queue[Msg]]:
        """Publish a request and yield the queue its replies arrive on."""
        self._counter += 1
        reply = f"{self._prefix}.{self._counter}"
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._queues[reply] = queue
        try:
            await self._nc.publish(subject, payload, reply=reply, headers=headers)
            yield queue
        finally:
            self._queues.pop(reply, None)


def status_of(msg: Msg) -> str | None:
    """The status code of a NATS status message ('204', '404', …), or None for data."""
    if msg.data:
        return None
    hdrs: Any = msg.headers
    if not hdrs:
        return None
    return hdrs.get("Status")
