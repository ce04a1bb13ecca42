"""The live channel's websocket clients as the chat bench holds them, and figure 1: what
holding them costs the server.

Every chat figure reads its frames through `Clients`: real websockets of the live channel
(docs/websocket.md) held in the bench process, each authenticated (`auth`, then `ready`)
and read into a callback, spread over sessions with unlimited connectors. The same code
drives the edge and the raw server (`bench.chat_ceilings`), so both sides pay the same
client cost. Figure 1 (`idle_figure`) holds thousands of them on one server process and
divides its RSS growth by their number (`kib_per_socket`); the run first lifts the
open-files limit that so many sockets need (`raise_open_files`).
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.environment import BenchSetupError

#: Sockets per aiohttp ClientSession (each with its own unlimited connector).
SOCKETS_PER_SESSION = 1000


#: What a client does with each text frame it reads: (socket index, the frame).
OnFrame = Callable[[int, str], None]


def _ignore(_i: int, _data: str) -> None:
    return None


@dataclass
class Clients:
    """Websocket clients of the live channel in this process: each sends `auth`, waits for
    `ready`, then reads every frame into `on_frame`. Spread over several ClientSessions with
    unlimited connectors (one session pools 100 connections by default). The same code
    drives the edge and the raw server."""

    base_url: str
    on_frame: OnFrame = _ignore
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    #: Closes the server made, by code (4008: too slow).
    closes: Counter[int] = field(default_factory=Counter)
    cursors: list[int] = field(default_factory=list)
    closing: bool = False

    async def open(
        self, tokens: Sequence[str], cursor: int | None = None, concurrency: int = 64
    ) -> float:
        """Connect one socket per token (`concurrency` handshakes at once); seconds taken."""
        gate = asyncio.Semaphore(concurrency)
        first = len(self.sockets)
        self.sockets.extend([None] * len(tokens))  # type: ignore[list-item]
        self.cursors.extend([0] * len(tokens))
        started = time.perf_counter()

        async def one(k: int, token: str) -> None:
            i = first + k
            async with gate:
                ws = await self._session(i).ws_connect("/v1/ws", autoping=True)
                auth = {"type": "auth", "token": token}
                if cursor is not None:
                    auth["cursor"] = cursor  # type: ignore[assignment]
                await ws.send_str(json.dumps(auth))
                ready = json.loads((await ws.receive(timeout=60)).data)
                if ready.get("type") != "ready":
                    raise BenchSetupError(f"socket {i}: {ready}")
                self.sockets[i], self.cursors[i] = ws, ready["cursor"]
                self.readers.append(asyncio.create_task(self._read(i, ws)))

        await asyncio.gather(*(one(k, t) for k, t in enumerate(tokens)))
        return time.perf_counter() - started

    def _session(self, i: int) -> aiohttp.ClientSession:
        while len(self.sessions) <= i // SOCKETS_PER_SESSION:
            self.sessions.append(
                aiohttp.ClientSession(
                    self.base_url, connector=aiohttp.TCPConnector(limit=0, force_close=False)
                )
            )
        return self.sessions[i // SOCKETS_PER_SESSION]

    async def _read(self, i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        on_frame = self.on_frame
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                on_frame(i, msg.data)
        if not self.closing:
            self.closes[ws.close_code or 0] += 1

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(ws.close() for ws in self.sockets if ws is not None))
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        for session in self.sessions:
            await session.close()
        self.sessions.clear()


# --- figure 1: idle sockets ---------------------------------------------------------------


def kib_per_socket(rss_before_kib: int, rss_after_kib: int, sockets: int) -> float | None:
    """RSS growth of a server process divided by the sockets it took on meanwhile."""
    return None if sockets <= 0 else round((rss_after_kib - rss_before_kib) / sockets, 2)


def rss_kib(pid: int) -> int:
    """A process's resident set (VmRSS), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchSetupError(f"no VmRSS for pid {pid}")


def raise_open_files(wanted: int) -> int:
    """Lift this process's open-files limit (the children inherit it) toward `wanted`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def idle_figure(
    base_url: str, pid: int, tokens: Sequence[str], say: Callable[[str], None], label: str
) -> dict[str, Any]:
    """Connect a few sockets and drop them (the server's first connections allocate what
    every later one shares), then hold `tokens` sockets and read the server's RSS growth."""
    warm = Clients(base_url)
    await warm.open(tokens[:50])
    await warm.close()
    await asyncio.sleep(1.0)  # the server finishes the warm-up sessions' cleanup
    before = rss_kib(pid)
    clients = Clients(base_url)
    try:
        say(f"figure 1: {len(tokens):,} idle sockets on the {label}")
        seconds = await clients.open(tokens)
        await asyncio.sleep(2.0)  # idle: the sessions' tasks reach their waits
        after = rss_kib(pid)
        still_open = sum(1 for ws in clients.sockets if ws is not None and not ws.closed)
    finally:
        await clients.close()
    return {
        "sockets": len(tokens),
        "open_at_measure": still_open,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_socket": kib_per_socket(before, after, len(tokens)),
        "connects_per_s": round(len(tokens) / seconds, 1),
        "closes": dict(clients.closes),
    }
