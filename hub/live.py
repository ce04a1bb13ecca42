"""The dashboard's live feed: server-sent events (`GET /v1/hub/live`), one JSON frame a
second with what the dashboard draws (modules, rates, lag, dead letters) and the station's
health every few seconds.

One sampler serves every open dashboard, and runs only while one is open: its cost is a
discovery round, one `STREAM.INFO` per stream and the consumers' infos per second, whatever
the number of viewers (the kernel bench measures it beside the platform). Rates are the
difference of two samples: events/s per stream from its last sequence, commands/s per
context from the handlers' request counters (`$SRV.STATS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import msgspec
from aiohttp import web

from core.logging import get_logger
from hub.health import stream_health

log = get_logger("quark.hub.live")

#: Samples kept for the sparklines (one a second).
HISTORY = 120
#: The health report is recomputed every this many samples.
HEALTH_EVERY = 5
SAMPLER = web.AppKey("sampler", "Sampler")


#: Put in a viewer's queue when the hub stops: its stream ends.
END = b""


class Sampler:
    """Samples the station once a second while anyone listens."""

    def __init__(self, hub: Any, interval: float = 1.0) -> None:
        self.hub = hub
        self.interval = interval
        self.listeners: set[asyncio.Queue[bytes]] = set()
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._task: asyncio.Task[None] | None = None
        self._last: tuple[float, dict[str, int], dict[str, int]] | None = None
        self._health: Any = None
        self._count = 0
        self._encoder = msgspec.json.Encoder()

    def subscribe(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=8)
        self.listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="hub-sampler")
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        self.listeners.discard(queue)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Every open stream ends now: the hub's shutdown waits for its handlers, and a viewer
        # left waiting for its next keep-alive held a stop for up to 15 s.
        for queue in list(self.listeners):
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    queue.get_nowait()
            queue.put_nowait(END)

    async def _run(self) -> None:
        while self.listeners:
            started = time.monotonic()
            try:
                frame = await self.sample()
            except Exception as exc:  # a dependency down: say so, keep sampling
                log.warning("hub_sample_failed", error=repr(exc))
                frame = {"at": time.time(), "error": f"{type(exc).__name__}: {exc}"}
            data = b"event: tick\ndata: " + self._encoder.encode(frame) + b"\n\n"
            for queue in list(self.listeners):
                if queue.full():  # a stalled viewer loses frames, never stalls the others
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(data)
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    async def sample(self) -> dict[str, Any]:
        hub = self.hub
        modules = await hub.modules()
        streams = await stream_health(hub.infra)
        now = time.monotonic()
        seqs = {s.name: s.last_seq for s in streams}
        requests: dict[str, int] = {}
        for m in modules:
            if m.kind == "handler":
                requests[m.name] = sum(e.requests for i in m.instances for e in i.endpoints)
        events_per_s: dict[str, float] = {}
        commands_per_s: dict[str, float] = {}
        if self._last is not None:
            at, last_seqs, last_requests = self._last
            elapsed = max(1e-3, now - at)
            events_per_s = {
                k: round(max(0, v - last_seqs.get(k, v)) / elapsed, 2) for k, v in seqs.items()
            }
            commands_per_s = {
                k: round(max(0, v - last_requests.get(k, v)) / elapsed, 2)
                for k, v in requests.items()
            }
        self._last = (now, seqs, requests)
        if self._count % HEALTH_EVERY == 0:
            self._health = await hub.health()
        self._count += 1
        frame = {
            "at": time.time(),
            "modules": [
                {
                    "name": m.name,
                    "kind": m.kind,
                    "instances": [
                        {
                            "id": i.id,
                            "host": i.host,
                            "pid": i.pid,
                            "version": i.version,
                            "started": i.started,
                            "source": i.source,
                        }
                        for i in m.instances
                    ],
                }
                for m in modules
            ],
            "events_per_s": events_per_s,
            "commands_per_s": commands_per_s,
            "commands_total": sum(requests.values()),
            "events_total": sum(seqs.values()),
            "health": self._health,
        }
        self.history.append(
            {"at": frame["at"], "events_per_s": events_per_s, "commands_per_s": commands_per_s}
        )
        frame["history"] = list(self.history)
        return frame


async def live(request: web.Request) -> web.StreamResponse:
    from hub.app import viewer

    await viewer(request)
    sampler = request.app[SAMPLER]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = sampler.subscribe()
    try:
        await response.write(b"retry: 2000\n\n")
        while True:
            try:
                data = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                data = b": keep-alive\n\n"
            if data is END:
                break
            await response.write(data)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        sampler.unsubscribe(queue)
    return response


def add_live_routes(app: web.Application) -> None:
    from hub.app import HUB

    app[SAMPLER] = Sampler(app[HUB])
    app.router.add_get("/v1/hub/live", live)

    async def stop_sampler(app: web.Application) -> None:
        await app[SAMPLER].stop()

    app.on_shutdown.append(stop_sampler)
