"""Platform workers as processes of their own (`python -m station.cli run …`), for tests whose
point is that two processes agree: a second edge, a handler that can be killed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp

from core import embedded
from core.settings import Settings
from tests.conftest import ROOT
from tests.support.cli import quark_env


@dataclass
class WorkerProcess:
    """One `quark run <argv>` process; its output is kept for the failure message."""

    argv: list[str]
    settings: Settings
    port: int = 0
    #: The `quark` command: `run` (one worker) or `up` (the whole platform).
    command: str = "run"
    #: More `QUARK_*` settings for this process only.
    env: dict[str, str] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    output: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("QUARK_")},
            **quark_env(self.settings),
            "QUARK_HTTP_PORT": str(self.port),
            "QUARK_COMMAND_TIMEOUT": str(self.settings.command_timeout),
            "PYTHONPATH": str(ROOT),
            **self.env,
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "station.cli",
            self.command,
            *self.argv,
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace"))

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the edge answers /readyz with 200 (bounded)."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(f"{self.argv} exited:\n{''.join(self.output)}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.base_url}/readyz") as resp:
                        if resp.status == 200:
                            return
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{self.argv} not ready:\n{''.join(self.output)}")
                await asyncio.sleep(0.05)

    async def wait_output(self, text: str, timeout: float = 30.0) -> None:
        """Until the process has printed `text` (bounded)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(text in line for line in self.output):
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(f"{self.argv} exited:\n{''.join(self.output)}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{self.argv} never printed {text!r}:\n{''.join(self.output)}")
            await asyncio.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        if self.proc is not None and self.proc.returncode is None:
            os.killpg(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.kill()
                await self.proc.wait()
        if self.proc is not None and self.proc.returncode is None:
            await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._reader, 5)


@contextlib.asynccontextmanager
async def edge_process(settings: Settings) -> AsyncIterator[WorkerProcess]:
    """A second edge, in a process of its own, against the test's servers."""
    edge = WorkerProcess(["edge"], settings, port=embedded.free_port())
    await edge.start()
    try:
        await edge.wait_ready()
        yield edge
    finally:
        await edge.stop()
