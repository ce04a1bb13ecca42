"""Recent log lines of the whole station, for the dashboard and `quark logs`: the hub
listens to `quark.logs.>` (every process publishes its lines there, `core.logging`) and keeps
the last `KEEP` in memory. Filters: module, lowest level, correlation id — the last follows
one request across the edge, the handler that ran its command and the read models that
applied its events, whatever process each ran in.

Memory, not a log store: a hub restart forgets them, and compose deployments keep their
logs where compose does (`docker compose logs`).
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from core.logging import LOGS_SUBJECT
from core.natsutil import NATS_UNAVAILABLE

KEEP = 5_000
LEVELS = ("debug", "info", "warning", "error", "critical")
_decoder = msgspec.json.Decoder(dict)


def _rank(level: object) -> int:
    return LEVELS.index(level) if level in LEVELS else 1  # type: ignore[arg-type]


class LogBuffer:
    def __init__(self, nc: NATS, keep: int = KEEP) -> None:
        self.nc = nc
        self.lines: deque[dict[str, Any]] = deque(maxlen=keep)
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(f"{LOGS_SUBJECT}.>", cb=self._on_line)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await self._sub.unsubscribe()

    async def _on_line(self, msg: Msg) -> None:
        with contextlib.suppress(msgspec.DecodeError):
            line = _decoder.decode(msg.data)
            line.setdefault("module", msg.subject.rsplit(".", 1)[-1])
            self.lines.append(line)

    def select(
        self,
        *,
        module: str | None = None,
        level: str | None = None,
        correlation_id: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """The newest `limit` lines that pass every filter given, oldest first."""
        lowest = LEVELS.index(level) if level in LEVELS else 0
        out: list[dict[str, Any]] = []
        for line in reversed(self.lines):
            if module and line.get("module") != module:
                continue
            if lowest and _rank(line.get("level")) < lowest:
                continue
            if correlation_id and line.get("correlation_id") != correlation_id:
                continue
            out.append(line)
            if len(out) >= limit:
                break
        out.reverse()
        return out
