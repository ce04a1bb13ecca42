"""Modules that are programs of their own (in Node.js, or any language), run by `quark up` as
child processes: started with the settings they read, restarted with backoff when they die,
stopped with SIGTERM (they drain) before the handlers, killed if they outstay the grace.

A started module has docked when its micro service answers `$SRV.INFO.quark-<name>` with
its process's pid: the same discovery the hub uses, whatever the language.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import os
import shutil
import signal
import sys

import msgspec
from nats.aio.client import Client as NATS

from core.logging import get_logger
from core.modules import SERVICE_PREFIX
from core.settings import PREFIX, Settings
from station.catalogue import ProcessModule

log = get_logger("quark.process_modules")

#: The settings a child receives (as QUARK_* variables, from the parent's effective
#: settings: an embedded NATS has no variable of its own). Nothing else of the parent's
#: QUARK_* environment, secrets included, reaches it.
CHILD_SETTINGS = (
    "env",
    "nats_url",
    "log_level",
    "handler_concurrency",
    "link_preview_networks",
)
#: How long a stopping module may drain before it is killed (seconds).
STOP_GRACE = 15.0


def _variable(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def child_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    for name in CHILD_SETTINGS:
        value = getattr(settings, name)
        if value not in (None, ""):
            env[f"{PREFIX}{name.upper()}"] = _variable(value)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM when this process dies, even by SIGKILL, so a crashed
    `quark up` leaves no module serving commands on its own."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ModuleProcess:
    """One module in its own process, supervised."""

    def __init__(
        self, name: str, module: ProcessModule, settings: Settings, *, capture: bool = False
    ) -> None:
        self.name = name
        self.module = module
        self.settings = settings
        #: Keep the child's output (tests read it) instead of sharing this process's.
        self.capture = capture
        self.output: collections.deque[str] = collections.deque(maxlen=5000)
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._readers: set[asyncio.Task[None]] = set()

    def problem(self) -> str | None:
        """Why this module cannot start here (None: it can)."""
        runtime = self.module.command[0]
        if shutil.which(runtime) is None:
            return f"`{runtime}` is not on PATH"
        if not (self.module.path / self.module.installed).exists():
            return (
                f"{self.module.directory} is not installed: run `{self.module.install}` there "
                "(./dev up does)"
            )
        return None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    async def _spawn(self) -> asyncio.subprocess.Process:
        out = asyncio.subprocess.PIPE if self.capture else None
        proc = await asyncio.create_subprocess_exec(
            *self.module.command,
            cwd=self.module.path,
            env=child_environment(self.settings),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT if self.capture else None,
            # Its own session: a terminal's Ctrl-C reaches `quark up` only, which stops the
            # module in order (handlers drain after the edge stopped taking requests).
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        if self.capture and proc.stdout is not None:
            reader = asyncio.create_task(self._read(proc.stdout))
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)
        log.info("module_process_started", module=self.name, pid=proc.pid)
        return proc

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.output.append(line.decode(errors="replace"))

    async def start(self) -> None:
        self.proc = await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"module-{self.name}")

    async def _supervise(self) -> None:
        """Restart the module with backoff whenever it fails. Exit code 0 is a module that
        was told to stop (by the manager, `quark stop` / a rolling restart, through its
        `quark.control.<process>` subject) and drained: it stays stopped."""
        delay = 0.5
        loop = asyncio.get_running_loop()
        while True:
            assert self.proc is not None
            started = loop.time()
            code = await self.proc.wait()
            if self._stopping.is_set() or code == 0:
                log.info("module_process_stopped", module=self.name, code=code)
                return
            log.error("module_process_exited", module=self.name, code=code, retry_in=delay)
            if loop.time() - started > 60:
                delay = 0.5  # it ran fine for a while: this is a new incident
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
                return
            delay = min(delay * 2, 30.0)
            self.restarts += 1
            self.proc = await self._spawn()

    async def wait_docked(self, nc: NATS, timeout: float = 15.0) -> bool:
        """Until this process's micro service answers discovery (False: not within
        `timeout`, or the process exited)."""
        from hub.registry import gather_replies

        deadline = asyncio.get_running_loop().time() + timeout
        subject = f"$SRV.INFO.{SERVICE_PREFIX}{self.name}"
        while asyncio.get_running_loop().time() < deadline:
            pid = self.pid
            if pid is None and self.proc is not None and self.proc.returncode is not None:
                return False
            for answer in await gather_replies(nc, subject, quiet=0.05, window=0.3):
                with contextlib.suppress(msgspec.DecodeError, AttributeError):
                    info = msgspec.json.decode(answer)
                    if (info.get("metadata") or {}).get("pid") == str(pid):
                        return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        """SIGTERM (the module stops taking commands and finishes those in flight), then
        SIGKILL after `STOP_GRACE` seconds."""
        self._stopping.set()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                log.warning("module_process_killed", module=self.name, pid=proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._supervisor is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor


def process_modules(
    names: list[str], settings: Settings, *, capture: bool = False
) -> list[ModuleProcess]:
    from station.catalogue import optional_modules

    return [
        ModuleProcess(name, module, settings, capture=capture)
        for name, module in optional_modules(names).items()
    ]
