"""The manager's hands on one machine: `quark up` runs this beside its modules and answers
`quark start|stop|restart|scale` on `quark.manage` (request/reply, JSON).

It works from what the station says about itself — discovery (`$SRV.INFO`) tells which
instances of a module run and in which process; each process stops one of its modules on
request (`station.control`) — and starts new instances as child processes
(`quark run <kind> <name>`, their output in `<data dir>/logs/<module>-<n>.log`). So a module
started by `quark up` itself and one started later are managed the same way, and a rolling
restart is: start a new instance, wait until it serves, then stop the old ones (NATS queue
groups spread commands over both meanwhile; durable consumers hand a read model's lease to
the standby). Every operation is logged and answered with its steps and their timings.

Health checks per kind, before an instance counts as started: a handler or worker answers
discovery (its subscriptions exist); a read model answers its `status`; the edge answers
`/readyz`; nothing else is needed for the queue groups to use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from core.logging import get_logger
from core.modules import PROCESS_ID
from core.natsutil import NATS_UNAVAILABLE
from core.settings import PREFIX, Settings, settings_env
from hub.registry import Instance, discover, instance_status
from station import control
from station.catalogue import OPTIONAL, modules, running_optional

log = get_logger("quark.supervisor")

SUBJECT = "quark.manage"
#: How long a new instance may take to serve, and an old one to drain.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
#: Start order of kinds; stopping goes the other way (the edge first: no new commands).
ORDER = ("projection", "handler", "worker", "edge")


class ManageRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    op: str
    module: str
    count: int | None = None
    rolling: bool = False


class Step(msgspec.Struct, kw_only=True):
    what: str
    ok: bool
    seconds: float
    detail: str = ""


class Report(msgspec.Struct, kw_only=True):
    op: str
    module: str
    ok: bool
    steps: list[Step] = []
    instances: int = 0
    message: str = ""


class ManageError(Exception):
    pass


def run_args(module: str, kind: str) -> list[str]:
    """`quark run` arguments that start `module` alone."""
    if kind == "projection":
        return ["projection", module.removeprefix("projection-")]
    if kind == "worker":
        return ["worker", module]
    if kind == "edge":
        return ["edge"]
    if kind == "handler":
        return ["handler", module]
    raise ManageError(f"{module} ({kind}) is not started by the manager")


def ordered(names: Iterable[str], kinds: dict[str, str], *, reverse: bool = False) -> list[str]:
    key: Callable[[str], tuple[int, str]] = lambda m: (ORDER.index(kinds[m]), m)  # noqa: E731
    return sorted(names, key=key, reverse=reverse)


@dataclass
class Child:
    module: str
    process: asyncio.subprocess.Process
    log_path: Path
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, nc: NATS, settings: Settings) -> None:
        self.nc = nc
        self.settings = settings
        optional = running_optional(settings.without_module_names())
        self.kinds = {m: k for m, k in modules(optional).items() if k != "hub"}
        self.children: list[Child] = []
        self._sub: Any = None
        self._encoder = msgspec.json.Encoder()
        self._lock = asyncio.Lock()
        self._counter = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(SUBJECT, cb=self._on_request)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await self._sub.unsubscribe()
        for child in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
        for child in list(self.children):
            try:
                await asyncio.wait_for(child.process.wait(), 25)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()

    def _env(self) -> dict[str, str]:
        """This process's settings (embedded servers' URLs included), JSON log lines."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
        env.update(settings_env(self.settings))
        env[f"{PREFIX}LOG_FORMAT"] = "json"
        return env

    async def spawn(self, module: str) -> Child:
        kind = self.kinds[module]
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._counter += 1
        path = logs / f"{module}-{self._counter}.log"
        out = path.open("ab")
        try:
            if module in OPTIONAL:
                # A program of its own (in another language): run as `quark up` runs it,
                # with only the settings it reads.
                from station.process_modules import child_environment

                program = OPTIONAL[module]
                process = await asyncio.create_subprocess_exec(
                    *program.command,
                    cwd=program.path,
                    env=child_environment(self.settings),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            else:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "station.cli",
                    "run",
                    *run_args(module, kind),
                    env=self._env(),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
        finally:
            out.close()
        child = Child(module, process, path)
        self.children.append(child)
        self._spawn(self._reap(child))
        log.info("module_process_started", module=module, pid=process.pid, log=str(path))
        return child

    async def _reap(self, child: Child) -> None:
        code = await child.process.wait()
        with contextlib.suppress(ValueError):
            self.children.remove(child)
        log.info("module_process_exited", module=child.module, pid=child.process.pid, code=code)

    # -- requests -----------------------------------------------------------------------------

    async def _on_request(self, msg: Msg) -> None:
        self._spawn(self._answer(msg))

    async def _answer(self, msg: Msg) -> None:
        try:
            request = msgspec.json.decode(msg.data, type=ManageRequest)
            async with self._lock:  # one operation at a time: they compose, never race
                report = await self.handle(request)
        except (ManageError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            report = Report(op="?", module="?", ok=False, message=str(exc))
        except Exception as exc:
            log.exception("manage_failed")
            report = Report(op="?", module="?", ok=False, message=f"{type(exc).__name__}: {exc}")
        log.info(
            "manage_done", op=report.op, module=report.module, ok=report.ok, message=report.message
        )
        if msg.reply:
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await self.nc.publish(msg.reply, self._encoder.encode(report))

    async def handle(self, r: ManageRequest) -> Report:
        targets = self._targets(r.module)
        report = Report(op=r.op, module=r.module, ok=True)
        if r.op == "start":
            for m in ordered(targets, self.kinds):
                await self._start(m, report)
        elif r.op == "stop":
            for m in ordered(targets, self.kinds, reverse=True):
                await self._stop(m, report, await self.instances(m))
        elif r.op == "restart":
            for m in ordered(targets, self.kinds):
                await self._restart(m, report, rolling=r.rolling)
        elif r.op == "scale":
            if r.count is None or not 0 <= r.count <= 16:
                raise ManageError("scale needs a count from 0 to 16")
            if len(targets) != 1:
                raise ManageError("scale one module at a time")
            await self._scale(targets[0], r.count, report)
        else:
            raise ManageError(f"unknown operation {r.op!r}")
        report.ok = all(s.ok for s in report.steps)
        if len(targets) == 1:
            report.instances = len(await self.instances(targets[0]))
        return report

    def _targets(self, module: str) -> list[str]:
        if module == "all":
            return list(self.kinds)
        if module == "hub":
            raise ManageError("the hub runs in quark up's own process: restart quark up")
        if module not in self.kinds:
            known = ", ".join(sorted(self.kinds))
            raise ManageError(f"no module named {module!r}; known: {known}")
        return [module]

    async def instances(self, module: str) -> list[Instance]:
        return [i for i in await discover(self.nc) if i.module == module]

    # -- operations ---------------------------------------------------------------------------

    async def _start(self, module: str, report: Report) -> None:
        running = await self.instances(module)
        if running:
            report.steps.append(
                Step(what=f"{module}: already running ({len(running)})", ok=True, seconds=0.0)
            )
            return
        await self._add(module, report, {i.id for i in running})

    async def _add(self, module: str, report: Report, before: set[str]) -> Instance | None:
        started = time.monotonic()
        child = await self.spawn(module)
        try:
            instance = await self._serving(module, before, child)
        except ManageError as exc:
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
            report.steps.append(
                Step(
                    what=f"{module}: start a new instance",
                    ok=False,
                    seconds=round(time.monotonic() - started, 2),
                    detail=f"{exc} (log: {child.log_path})",
                )
            )
            return None
        report.steps.append(
            Step(
                what=f"{module}: started instance {instance.id} (pid {instance.pid})",
                ok=True,
                seconds=round(time.monotonic() - started, 2),
                detail=str(child.log_path),
            )
        )
        return instance

    async def _serving(self, module: str, before: set[str], child: Child) -> Instance:
        """Until a new instance of `module` serves (its kind's health check)."""
        deadline = time.monotonic() + START_TIMEOUT
        kind = self.kinds[module]
        while time.monotonic() < deadline:
            if child.process.returncode is not None:
                raise ManageError(f"the process exited with {child.process.returncode}")
            fresh = [i for i in await self.instances(module) if i.id not in before]
            for instance in fresh:
                if await self._healthy(kind, instance):
                    return instance
            await asyncio.sleep(0.2)
        raise ManageError(f"no new instance served within {START_TIMEOUT:g} s")

    async def _healthy(self, kind: str, instance: Instance) -> bool:
        if kind == "projection":
            return await instance_status(self.nc, instance) is not None
        if kind == "edge":
            if not instance.url:
                return False
            try:
                async with (
                    aiohttp.ClientSession() as s,
                    s.get(instance.url + "/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r,
                ):
                    return r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False
        return True  # handlers and workers: answering discovery means subscribed

    async def _stop(self, module: str, report: Report, which: list[Instance]) -> None:
        if not which:
            report.steps.append(Step(what=f"{module}: not running", ok=True, seconds=0.0))
            return
        for instance in which:
            started = time.monotonic()
            ok, detail = await self._stop_instance(module, instance)
            report.steps.append(
                Step(
                    what=f"{module}: stopped instance {instance.id} (pid {instance.pid})",
                    ok=ok,
                    seconds=round(time.monotonic() - started, 2),
                    detail=detail,
                )
            )

    async def _stop_instance(self, module: str, instance: Instance) -> tuple[bool, str]:
        request = msgspec.json.encode({"op": "stop", "module": module})
        try:
            answer = await self.nc.request(
                control.subject(instance.process), request, timeout=STOP_TIMEOUT
            )
        except Exception as exc:
            return False, f"its process did not answer: {type(exc).__name__}"
        body = msgspec.json.decode(answer.data)
        if not body.get("stopped"):
            return False, "its process does not run it any more"
        return True, "drained" if instance.process != PROCESS_ID else "drained (quark up)"

    async def _restart(self, module: str, report: Report, *, rolling: bool) -> None:
        old = await self.instances(module)
        if not rolling:
            await self._stop(module, report, old)
            await self._add(module, report, set())
            return
        # Rolling: as many new instances as there were (at least one), each serving before
        # an old one stops, so the module never has fewer instances than it had.
        known = {i.id for i in old}
        for n in range(max(1, len(old))):
            added = await self._add(module, report, known)
            if added is None:
                report.message = "the new instance did not serve: the old ones keep running"
                return
            known.add(added.id)
            if n < len(old):
                await self._stop(module, report, [old[n]])

    async def _scale(self, module: str, count: int, report: Report) -> None:
        running = await self.instances(module)
        if count > len(running):
            known = {i.id for i in running}
            for _ in range(count - len(running)):
                added = await self._add(module, report, known)
                if added is None:
                    return
                known.add(added.id)
        elif count < len(running):
            # Newest first, and those of quark up's own process last.
            newest = sorted(running, key=lambda i: i.started, reverse=True)
            victims = sorted(newest, key=lambda i: i.process == PROCESS_ID)  # stable
            await self._stop(module, report, victims[: len(running) - count])
        else:
            report.steps.append(
                Step(what=f"{module}: already {count} instance(s)", ok=True, seconds=0.0)
            )


MIGRATE_REQ = Path("/proc/sys/net/ipv4/tcp_migrate_req")


def allow_edge_handover() -> bool:
    """Let the kernel move connections queued at a closing edge to another edge on the same
    port (`net.ipv4.tcp_migrate_req`, Linux 5.14+), so a rolling restart of the edge resets
    none. Only root may switch it on; `quark doctor` says when it is off."""
    try:
        if MIGRATE_REQ.read_text().strip() == "1":
            return True
        MIGRATE_REQ.write_text("1")
        return True
    except OSError:
        log.warning("edge_handover_unavailable", setting=str(MIGRATE_REQ))
        return False
