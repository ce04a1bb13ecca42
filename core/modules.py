"""Every running module instance announces itself as a NATS micro service (ADR-32), so the hub
and the `nats micro` tool discover the whole station with `$SRV.PING`, `$SRV.INFO` and
`$SRV.STATS` alone, whatever language a module is written in.

A module is what the manager starts, stops and scales: a handler context (`posts`), a read
model (`projection-posts`), the `edge`, the `media-worker`, the `sms-sender`, the `hub`, or a
module in another language. Its micro service is named `quark-<module>`; the metadata (string
values only, as the schema wants) say what kind it is and where it runs, so `quark status`
can show host, pid and start time without asking anything else. Modules with more to tell
(a read model's position, the edge's routes) answer a `status` endpoint on
`quark.status.<module>.<instance id>`: one subject per instance, never a queue group, so the
hub asks the instance it means.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats import micro
from nats.aio.client import Client as NATS
from nats.micro.request import Request

from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE

log = get_logger("quark.modules")

#: Every micro service of the station is named `quark-<module>`.
SERVICE_PREFIX = "quark-"
#: Where an instance answers its `status` endpoint: `quark.status.<module>.<instance id>`.
STATUS_PREFIX = "quark.status"
#: One id per process: the modules one process hosts share it, so the manager knows which
#: instances stop together.
PROCESS_ID = uuid.uuid4().hex[:12]
STARTED_AT = datetime.now(UTC)

KINDS = ("handler", "projection", "edge", "worker", "hub", "external")


@functools.cache
def version() -> str:
    """The installed platform's version (every Python module shares it); read once, as
    reading package metadata scans the environment's distributions."""
    try:
        return importlib.metadata.version("quark")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source tree only
        return "0.0.0"


def metadata(kind: str, module: str, **extra: object) -> dict[str, str]:
    """The metadata every Quark micro service carries (strings only: the ADR-32 schema)."""
    if kind not in KINDS:
        raise ValueError(f"unknown module kind {kind!r}")
    values = {
        "kind": kind,
        "module": module,
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
        "process": PROCESS_ID,
        "started": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "process_started": STARTED_AT.isoformat(timespec="milliseconds"),
    }
    values.update({key: str(value) for key, value in extra.items()})
    return values


def endpoint_data(_endpoint: object) -> dict[str, Any]:
    """An endpoint's extra statistics: an object, never null (nats-py's default), which the
    protocol's schema (and so `nats micro stats`) would refuse."""
    return {}


def status_subject(module: str, instance: str) -> str:
    return f"{STATUS_PREFIX}.{module}.{instance}"


Status = Callable[[], Awaitable[dict[str, Any]] | dict[str, Any]]


class Announcement:
    """One module instance's micro service: started with the module, stopped with it
    (`stop()` is what makes it disappear from discovery before the module drains)."""

    def __init__(self, service: micro.Service, module: str) -> None:
        self.service = service
        self.module = module

    @property
    def instance(self) -> str:
        return self.service.id

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.service.stop()


Operation = Callable[[bytes], Awaitable[dict[str, Any]]]


async def announce(
    nc: NATS,
    *,
    module: str,
    kind: str,
    description: str,
    status: Status | None = None,
    operations: dict[str, Operation] | None = None,
    **extra: object,
) -> Announcement:
    """Register `module` as a micro service with a `status` endpoint answering `status()`
    (JSON), and one endpoint per operation (`quark.<operation>.<module>.<instance>`, taking
    the request's body, answering JSON); the handle stops it."""
    service = await micro.add_service(
        nc,
        name=f"{SERVICE_PREFIX}{module}",
        version=version(),
        description=description,
        metadata=metadata(kind, module, **extra),
        stats_handler=endpoint_data,
    )
    encoder = msgspec.json.Encoder()

    async def answer(request: Request) -> None:
        started = time.perf_counter()
        try:
            body = status() if status is not None else {}
            if not isinstance(body, dict):
                body = await body
            payload = encoder.encode({"module": module, "instance": service.id, **body})
        except Exception as exc:  # the hub shows the reason instead of timing out
            log.warning("module_status_failed", module=module, error=repr(exc))
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await request.respond_error("500", repr(exc))
            return
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await request.respond(payload)
        log.debug("module_status", module=module, ms=(time.perf_counter() - started) * 1e3)

    await service.add_endpoint(
        name="status", subject=status_subject(module, service.id), handler=answer
    )
    for name, operation in (operations or {}).items():
        await service.add_endpoint(
            name=name,
            subject=f"quark.{name}.{module}.{service.id}",
            handler=_operation(module, name, operation, encoder),
        )
    return Announcement(service, module)


def _operation(
    module: str, name: str, operation: Operation, encoder: msgspec.json.Encoder
) -> Callable[[Request], Awaitable[None]]:
    async def answer(request: Request) -> None:
        try:
            payload = encoder.encode(await operation(request.data))
        except Exception as exc:
            log.warning("module_operation_failed", module=module, operation=name, error=repr(exc))
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await request.respond_error("500", f"{type(exc).__name__}: {exc}"[:500])
            return
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await request.respond(payload)

    return answer
