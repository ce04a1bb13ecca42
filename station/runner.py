"""Running workers: the handler workers of some contexts, some projections, the edge, or
all of them in one process (the dev runner). Each kind works the same alone in its own
process, which is how compose runs them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from core.bootstrap import Infra
from core.bus import HandlerWorker
from core.logging import get_logger
from core.projection_worker import ProjectionWorker, projection_worker

log = get_logger("quark.runner")


@dataclass
class Workers:
    """Started workers, stopped in reverse dependency order: edge first (no new commands),
    then handlers (finish commands in flight), then projections (finish their batch)."""

    infra: Infra
    handlers: list[HandlerWorker] = field(default_factory=list)
    projections: list[ProjectionWorker] = field(default_factory=list)
    projection_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    site_runner: web.AppRunner | None = None
    urls: list[str] = field(default_factory=list)
    #: A context's own background workers (e.g. the accounts SMS sender), started with its
    #: handlers: objects with async `start()` and `stop()`.
    background: list[Any] = field(default_factory=list)

    async def start_handlers(self, contexts: Iterable[str]) -> None:
        from handlers import contexts as all_contexts

        known = all_contexts()
        for name in contexts:
            module = known[name]
            worker = HandlerWorker(
                self.infra.nc,
                self.infra.store,
                name,
                module.TABLE,
                services=self.infra,
                concurrency=self.infra.settings.handler_concurrency,
            )
            await worker.start()
            self.handlers.append(worker)
            for service in getattr(module, "background", lambda _infra: [])(self.infra):
                await service.start()
                self.background.append(service)
            log.info("handler_started", context=name)

    async def start_projections(self, names: Iterable[str]) -> None:
        from projections import projections as all_projections

        known = all_projections()
        for name in names:
            worker = projection_worker(known[name], self.infra)
            # Create the read model before reporting "started", so reads never race it.
            await worker.sink.ensure()
            self.projections.append(worker)
            task = asyncio.create_task(self._supervise(worker), name=f"projection-{name}")
            self.projection_tasks.append(task)
            log.info("projection_started", projection=name)

    async def _supervise(self, worker: ProjectionWorker) -> None:
        """Run a projection until stopped, restarting it with backoff after a failure
        (PostgreSQL restarting, NATS failing over): a read model must not stay dead in a
        process that looks healthy."""
        delay = 0.5
        while not worker.stopping:
            started = asyncio.get_running_loop().time()
            try:
                await worker.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "projection_failed", projection=worker.name, error=repr(exc), retry_in=delay
                )
            if asyncio.get_running_loop().time() - started > 60:
                delay = 0.5  # it ran fine for a while: this is a new incident
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait_stopping(), delay)
            delay = min(delay * 2, 30.0)

    async def start_edge(self, host: str, port: int) -> None:
        from edge.app import create_app

        app = create_app(self.infra)
        self.site_runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.site_runner.setup()
        site = web.TCPSite(self.site_runner, host, port, reuse_address=True)
        await site.start()
        self.urls.append(f"http://{host}:{port}")
        log.info("edge_started", url=self.urls[-1])

    async def stop(self) -> None:
        if self.site_runner is not None:
            await self.site_runner.cleanup()
        for h in self.handlers:
            await h.stop()
        for b in reversed(self.background):
            await b.stop()
        for p in self.projections:
            p.stop()
        if self.projection_tasks:
            _, pending = await asyncio.wait(self.projection_tasks, timeout=15)
            for t in pending:
                t.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*self.projection_tasks, return_exceptions=True)


def install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop`. Until the returned `started()` is called they also cancel
    the current task, so a worker still connecting (NATS not up yet) stops at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    state = {"started": False}

    def on_signal() -> None:
        stop.set()
        if not state["started"] and task is not None:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)

    def started() -> None:
        state["started"] = True

    return started


async def serve_until_stopped(workers: Workers, stop: asyncio.Event, stack: AsyncExitStack) -> None:
    stack.push_async_callback(workers.stop)
    await stop.wait()
    log.info("stopping")
