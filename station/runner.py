"""Running workers: the handler workers of some contexts, some projections, the edge, or
all of them in one process (the dev runner). Each kind works the same alone in its own
process, which is how compose runs them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from core.bootstrap import Infra
from core.bus import HandlerWorker
from core.logging import get_logger
from core.modules import Announcement, announce
from core.projection_worker import ProjectionWorker, projection_worker

log = get_logger("quark.runner")


def projection_status(worker: ProjectionWorker) -> Callable[[], dict[str, Any]]:
    """A read model instance's `status` answer: whether it writes or stands by, and the
    last position it applied per stream (the hub computes the lag against the heads)."""

    def status() -> dict[str, Any]:
        return {
            "leading": worker.leading,
            "caught_up": worker.caught_up.is_set(),
            "version": worker.projection.version,
            "positions": dict(worker.positions),
        }

    return status


def edge_status(app: web.Application) -> Callable[[], dict[str, Any]]:
    """The edge's `status` answer: its routes (method and path) and what it is serving."""
    from edge.app import serving_status

    def status() -> dict[str, Any]:
        return serving_status(app)

    return status


#: Longest request line the edge reads (bytes).
MAX_REQUEST_LINE = 40_960

#: How long a stopping edge lets its clients finish and move (connections it still holds
#: after that are closed).
EDGE_DRAIN_SECONDS = 10.0


async def drain_edge(app: web.Application, runner: web.AppRunner) -> None:
    """Stop an edge without failing a request: stop listening (connections queued at the
    socket move to another edge on the port), answer every request in flight or arriving
    on an open connection with `Connection: close`, wait until clients have gone (open
    websockets aside: they are closed with 1001 and resume elsewhere with their cursor),
    then shut down."""
    from edge.app import DRAINING
    from edge.routes.live import SOCKETS

    app[DRAINING].set()
    for site in list(runner.sites):
        await site.stop()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EDGE_DRAIN_SECONDS
    server = runner.server
    while server is not None and loop.time() < deadline:
        if len(server.connections) <= len(app[SOCKETS]):
            break
        await asyncio.sleep(0.05)
    await runner.cleanup()


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
    #: Each module instance's micro service (discovery): stopped first, so the hub and the
    #: manager stop counting an instance before it drains.
    announcements: list[Announcement] = field(default_factory=list)
    hub_runner: web.AppRunner | None = None
    hub_url: str | None = None
    #: How to stop each running module alone (the manager's `quark stop <module>`), in order.
    stoppers: dict[str, list[Callable[[], Awaitable[None]]]] = field(default_factory=dict)
    #: Modules in processes of their own (other languages), stopped like handlers.
    children: list[Any] = field(default_factory=list)

    def modules(self) -> list[str]:
        """The modules this process runs now."""
        return sorted(self.stoppers)

    def _stopper(self, module: str, stop: Callable[[], Awaitable[None]]) -> None:
        self.stoppers.setdefault(module, []).append(stop)

    async def stop_module(self, module: str) -> bool:
        """Stop one module in this process (its announcement first, so nobody counts it
        while it drains); False if it does not run here."""
        stops = self.stoppers.pop(module, None)
        if stops is None:
            return False
        for stop in stops:
            await stop()
        log.info("module_stopped", module=module)
        return True

    def _announced(self, announcement: Announcement) -> Announcement:
        self.announcements.append(announcement)

        async def stop() -> None:
            await announcement.stop()
            with contextlib.suppress(ValueError):
                self.announcements.remove(announcement)

        self._stopper(announcement.module, stop)
        return announcement

    async def start_handlers(self, contexts: Iterable[str]) -> None:
        from handlers import contexts as all_contexts
        from handlers import served_by

        known = all_contexts()
        for name in contexts:
            module = known[name]
            if (elsewhere := served_by(module)) is not None:
                # Another module (in another language) answers these commands.
                log.info("handler_elsewhere", context=name, module=elsewhere)
                continue
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
            self._stopper(name, self._stopping(worker, self.handlers))
            for service in getattr(module, "background", lambda _infra: [])(self.infra):
                own = getattr(service, "module", None)
                if own is not None and own in self.stoppers:
                    continue  # already runs here as a module of its own
                await self._start_background(service, own or name, module.CONTEXT)
            log.info("handler_started", context=name)

    async def start_worker(self, module: str) -> None:
        """One worker that is a module of its own (`media-worker`, `sms-sender`) without its
        context's command handlers: what `quark scale media-worker 2` starts."""
        from handlers import contexts as all_contexts
        from station.catalogue import WORKERS

        if module not in WORKERS:
            raise KeyError(f"no worker module named {module!r}")
        context = all_contexts()[WORKERS[module]]
        for service in context.background(self.infra):
            if getattr(service, "module", None) == module:
                await self._start_background(service, module, context.CONTEXT)
                return
        raise KeyError(f"the {WORKERS[module]} context has no {module}")

    async def _start_background(self, service: Any, module: str, context: str) -> None:
        await service.start()
        self.background.append(service)
        if getattr(service, "module", None) == module:
            self._announced(
                await announce(
                    self.infra.nc,
                    module=module,
                    kind="worker",
                    description=(service.__doc__ or module).strip().split("\n")[0],
                    status=getattr(service, "status", None),
                    context=context,
                )
            )
        self._stopper(module, self._stopping(service, self.background))

    @staticmethod
    def _stopping(worker: Any, kept_in: list[Any]) -> Callable[[], Awaitable[None]]:
        async def stop() -> None:
            await worker.stop()
            with contextlib.suppress(ValueError):
                kept_in.remove(worker)

        return stop

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
            self._announced(
                await announce(
                    self.infra.nc,
                    module=f"projection-{name}",
                    kind="projection",
                    description=f"The {name} read model",
                    status=projection_status(worker),
                    operations={"retry": worker.retry_dead_letter},
                    projection=name,
                    streams=",".join(s.stream for s in worker.spec.sources),
                )
            )
            self._stopper(f"projection-{name}", self._projection_stopper(worker, task))
            log.info("projection_started", projection=name)

    def _projection_stopper(
        self, worker: ProjectionWorker, task: asyncio.Task[None]
    ) -> Callable[[], Awaitable[None]]:
        async def stop() -> None:
            worker.stop()
            _, pending = await asyncio.wait([task], timeout=15)
            for t in pending:
                t.cancel()
            with contextlib.suppress(BaseException):
                await task
            for kept, item in ((self.projections, worker), (self.projection_tasks, task)):
                with contextlib.suppress(ValueError):
                    kept.remove(item)  # type: ignore[arg-type]

        return stop

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
        # A request line may carry a query value of up to 6,144 characters (a link to
        # preview), percent-encoded: aiohttp's 8,190-byte default would answer 400 itself.
        runner = self.site_runner = web.AppRunner(
            app, access_log=None, handle_signals=False, max_line_size=MAX_REQUEST_LINE
        )
        await runner.setup()
        # reuse_port: a second edge (a rolling restart, `quark scale edge 2`) binds the same
        # port and the kernel spreads connections; with net.ipv4.tcp_migrate_req on, the
        # connections queued at an edge that stops move to another instead of being reset.
        site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=True)
        await site.start()
        url = f"http://{host}:{port}"
        self.urls.append(url)
        self._announced(
            await announce(
                self.infra.nc,
                module="edge",
                kind="edge",
                description="The HTTP and websocket edge",
                status=edge_status(app),
                url=url,
            )
        )

        async def stop() -> None:
            await drain_edge(app, runner)
            if self.site_runner is runner:
                self.site_runner = None

        self._stopper("edge", stop)
        log.info("edge_started", url=url)

    async def start_hub(self, host: str, port: int) -> None:
        """The hub: registry, health and the dashboard, on its own port."""
        from hub.app import create_hub_app
        from station.catalogue import running_optional, station

        expected = station(running_optional(self.infra.settings.without_module_names()))
        app = create_hub_app(self.infra, expected)  # type: ignore[arg-type]
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        self.hub_runner = runner
        url = f"http://{host}:{port}"
        self.hub_url = url
        self._announced(
            await announce(
                self.infra.nc,
                module="hub",
                kind="hub",
                description="The hub: registry, health and the dashboard",
                url=url,
            )
        )

        async def stop() -> None:
            await runner.cleanup()
            if self.hub_runner is runner:
                self.hub_runner = None

        self._stopper("hub", stop)
        log.info("hub_started", url=url)

    async def start_process_modules(
        self, names: Iterable[str], *, capture: bool = False, settings: Any = None
    ) -> dict[str, str]:
        """Start the modules that are programs of their own (`station.catalogue.OPTIONAL`)
        as child processes, each waited for until it has docked; those that cannot start
        here are skipped. Returns module name -> why it did not start."""
        from station.process_modules import process_modules

        skipped: dict[str, str] = {}
        for child in process_modules(list(names), settings or self.infra.settings, capture=capture):
            if problem := child.problem():
                skipped[child.name] = problem
                log.warning("module_not_started", module=child.name, reason=problem)
                continue
            await child.start()
            self.children.append(child)
            if not await child.wait_docked(self.infra.nc):
                skipped[child.name] = "it did not dock (its output says why)"
                log.error("module_not_docked", module=child.name)
                continue
            log.info("module_docked", module=child.name, pid=child.pid)
        return skipped

    async def stop(self) -> None:
        """Every module, in reverse dependency order: the edge (no new commands), the hub,
        handlers (commands in flight finish; modules in processes of their own drain on
        SIGTERM beside them), workers, then read models (their batch commits)."""
        rank = {"edge": 0, "hub": 1}
        projections = {m for m in self.stoppers if m.startswith("projection-")}
        handlers = {h.context for h in self.handlers}

        def rank_of(m: str) -> int:
            return rank.get(m, 2 if m in handlers else 4 if m in projections else 3)

        children = self.children
        ranks = sorted({rank_of(m) for m in self.stoppers})
        for rank_now in ranks:
            if children and rank_now >= 2:
                children = await self._stop_children()
            # Modules of one rank do not depend on each other: they drain together (a
            # station's stop took the sum of some thirty drains, one after another).
            await asyncio.gather(
                *(self.stop_module(m) for m in sorted(self.stoppers) if rank_of(m) == rank_now),
                return_exceptions=True,
            )
        if children:
            await self._stop_children()
        # Whatever was handed to these lists without a module of its own (a test's extra
        # worker) stops too.
        for h in list(self.handlers):
            await h.stop()
        for b in reversed(list(self.background)):
            with contextlib.suppress(Exception):
                await b.stop()
        for p in self.projections:
            p.stop()
        if self.projection_tasks:
            _, pending = await asyncio.wait(self.projection_tasks, timeout=15)
            for t in pending:
                t.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*self.projection_tasks, return_exceptions=True)

    async def _stop_children(self) -> list[Any]:
        """Modules in processes of their own, beside the handlers: SIGTERM, and each drains.
        (They are not this process's modules to the manager: each answers for itself.)"""
        await asyncio.gather(*(c.stop() for c in self.children), return_exceptions=True)
        self.children.clear()
        return self.children


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
