"""Structured logging: JSON lines in production, readable lines in dev. Every line carries
the correlation id of the request or command being served (bound in contextvars) and the
module it belongs to (`module`: a context, `projection-<name>`, `edge`, `hub`…), so
`quark logs <module>` and the hub can follow one module, or one request across modules.

`quark up` runs many modules in one process: besides the console it writes the same lines
as JSON to `<data dir>/logs/quark-up.log` (`also_to`), which `quark logs` reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
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
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name, logger_name=name)
