"""Each station process answers the manager on `quark.control.<process id>` (the id every
module instance of the process carries in its metadata): which modules it runs, and stop one
of them. Plain request/reply, not a micro service: it is the station's plumbing, not a
module anyone should count.

A process started for modules (`quark run …`) exits once its last module has stopped;
`quark up`'s own process keeps running (it holds the embedded servers and the manager).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from core.logging import get_logger
from core.modules import PROCESS_ID
from core.natsutil import NATS_UNAVAILABLE

log = get_logger("quark.control")

PREFIX = "quark.control"


def subject(process: str) -> str:
    return f"{PREFIX}.{process}"


class Request(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    module: str | None = None


class ProcessControl:
    def __init__(
        self, nc: NATS, workers: Any, *, exit_when_empty: asyncio.Event | None = None
    ) -> None:
        self.nc = nc
        self.workers = workers
        self.exit_when_empty = exit_when_empty
        self._sub: Any = None
        self._encoder = msgspec.json.Encoder()
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(subject(PROCESS_ID), cb=self._on_request)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await self._sub.unsubscribe()

    def _state(self) -> dict[str, Any]:
        return {"process": PROCESS_ID, "pid": os.getpid(), "modules": self.workers.modules()}

    async def _on_request(self, msg: Msg) -> None:
        try:
            request = msgspec.json.decode(msg.data, type=Request)
        except msgspec.DecodeError as exc:
            await self._reply(msg, {"error": f"bad request: {exc}"})
            return
        if request.op == "modules":
            await self._reply(msg, self._state())
            return
        if request.op == "stop" and request.module:
            # Answer when the module is gone (its commands in flight done, its batch
            # committed), in a task: a drain must not hold up this subscription.
            self._spawn(self._stop(msg, request.module))
            return
        await self._reply(msg, {"error": f"unknown operation {request.op!r}"})

    async def _stop(self, msg: Msg, module: str) -> None:
        stopped = await self.workers.stop_module(module)
        log.info("control_stop", module=module, stopped=stopped)
        await self._reply(msg, {**self._state(), "stopped": stopped})
        if self.exit_when_empty is not None and not self.workers.modules():
            self.exit_when_empty.set()

    async def _reply(self, msg: Msg, body: dict[str, Any]) -> None:
        if msg.reply:
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await self.nc.publish(msg.reply, self._encoder.encode(body))
