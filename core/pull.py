"""A streaming pull consumer loop with low latency.

nats-py's `fetch(batch=N)` waits for N messages or its timeout once the first has arrived,
which would put the timeout into every projection's lag. This loop keeps pull requests
outstanding on a private inbox and hands over whatever has arrived as soon as anything has,
in chunks of at most `max_batch`: under load chunks are large (throughput), when idle a
single event is applied at once (latency).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from core.natsutil import status_of


class PullStream:
    def __init__(
        self, nc: NATS, stream: str, consumer: str, *, max_batch: int = 1000, expires: float = 5.0
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.consumer = consumer
        self.max_batch = max_batch
        self.expires = expires
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._sub: Subscription | None = None
        self._inbox = nc.new_inbox()
        self._outstanding = 0
        self._last_request = 0.0

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self._inbox, cb=self._on_msg)
        await self._request()

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        self._queue.put_nowait(msg)

    async def _request(self) -> None:
        want = self.max_batch * 2 - self._outstanding
        if want <= 0:
            return
        self._outstanding += want
        self._last_request = asyncio.get_running_loop().time()
        body = json.dumps({"batch": want, "expires": int(self.expires * 1e9)}).encode()
        await self.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}", body, reply=self._inbox
        )

    async def next_chunk(self, timeout: float) -> list[Msg]:
        """Messages that have arrived (at least one, unless `timeout` passes first)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        out: list[Msg] = []
        while not out:
            if (
                self._outstanding <= self.max_batch
                or loop.time() - self._last_request > self.expires
            ):
                if loop.time() - self._last_request > self.expires:
                    self._outstanding = 0  # every earlier request has expired by now
                await self._request()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return out
            try:
                msg = await asyncio.wait_for(self._queue.get(), min(remaining, self.expires))
            except TimeoutError:
                continue
            self._take(msg, out)
            while len(out) < self.max_batch and not self._queue.empty():
                self._take(self._queue.get_nowait(), out)
        return out

    def _take(self, msg: Msg, out: list[Msg]) -> None:
        status = status_of(msg)
        if status is None:
            self._outstanding -= 1
            out.append(msg)
            return
        if status in ("408", "409"):
            # Request expired / consumer changed: the server tells how much was left unfilled.
            left = (msg.headers or {}).get("Nats-Pending-Messages")
            self._outstanding -= int(left) if left and left.isdigit() else self._outstanding
            self._outstanding = max(self._outstanding, 0)
        # 100 (heartbeat) and 404 need nothing.
