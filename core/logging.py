"""Structured logging: JSON lines in production, readable lines in dev. Every line carries
the correlation id of the request or command being served (bound in contextvars) and the
module it belongs to (`module`: a context, `projection-<name>`, `edge`, `hub`…), so
`quark logs <module>` and the hub can follow one module, or one request across modules.

`quark up` runs many modules in one process: besides the console it writes the same lines
as JSON to `<data dir>/logs/quark-up.log` (`also_to`), which `quark logs` reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import structlog

from core.settings import Settings

#: Loggers whose lines belong to one module whatever their fields say.
_LOGGER_MODULES = {"quark.edge": "edge", "quark.hub": "hub", "quark.hub.live": "hub"}


def module_of(event: dict[str, Any]) -> str | None:
    """The module a log line belongs to, from what it says about itself."""
    if module := event.get("module"):
        return str(module)
    if projection := event.get("projection"):
        return f"projection-{projection}"
    if context := event.get("context"):
        return str(context)
    logger = str(event.get("logger_name", ""))
    return _LOGGER_MODULES.get(logger) or ("edge" if logger.startswith("quark.edge") else None)


def _with_module(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    if "module" not in event and (module := module_of(event)) is not None:
        event["module"] = module
    return event


class _Tee:
    """A processor writing each line as JSON to a file too (before the console renderer)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", buffering=1, encoding="utf-8")

    def __call__(self, _logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        # A full disk must not take the platform down with it.
        with contextlib.suppress(OSError, ValueError):
            self.file.write(json.dumps(event, default=str, ensure_ascii=False) + "\n")
        return event


#: Where log lines go on NATS for the hub and `quark logs -f`: `quark.logs.<module>`.
LOGS_SUBJECT = "quark.logs"
#: Lines waiting to be published (a burst beyond it is dropped, never waited for).
_SHIP_BACKLOG = 2_000
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class _Shipper:
    """Publishes log lines (info and above) to NATS core subjects: fire and forget, bounded,
    so logging never waits for NATS nor fails with it. One publisher per event loop (a
    `quark` command run in a thread beside a platform has its own connection and loop)."""

    def __init__(self) -> None:
        self.loops: dict[
            asyncio.AbstractEventLoop, tuple[asyncio.Queue[dict[str, Any]], asyncio.Task[None]]
        ] = {}

    def __call__(self, _logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if self.loops and _LEVELS.get(method, 20) >= 20:
            try:
                queue = self.loops[asyncio.get_running_loop()][0]
            except (RuntimeError, KeyError):
                return event  # no loop, or this loop does not ship
            if not queue.full():
                queue.put_nowait(dict(event))
        return event

    def start(self, nc: Any) -> None:
        loop = asyncio.get_running_loop()
        if loop in self.loops:
            return
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_SHIP_BACKLOG)
        self.loops[loop] = (queue, loop.create_task(self._run(nc, queue)))

    async def stop(self) -> None:
        entry = self.loops.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            entry[1].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await entry[1]

    async def _run(self, nc: Any, queue: asyncio.Queue[dict[str, Any]]) -> None:
        pid = os.getpid()
        while True:
            event = await queue.get()
            event.setdefault("pid", pid)
            module = str(event.get("module") or "station").replace(".", "_")
            body = json.dumps(event, default=str, ensure_ascii=False).encode()
            with contextlib.suppress(Exception):  # NATS away: the line is only lost here
                await nc.publish(f"{LOGS_SUBJECT}.{module}", body)


_SHIPPER = _Shipper()


def ship_logs(nc: Any) -> None:
    """Start publishing this process's log lines on NATS (from inside its event loop)."""
    _SHIPPER.start(nc)


async def stop_shipping_logs() -> None:
    await _SHIPPER.stop()


def configure_logging(settings: Settings, *, also_to: Path | None = None) -> None:
    level = getattr(logging, settings.log_level.upper())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _with_module,
    ]
    renderer: structlog.types.Processor
    if settings.json_logs:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    if also_to is not None:
        shared.append(_Tee(also_to))
    shared.append(_SHIPPER)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name, logger_name=name)
