"""Route declarations: one literal table per route module, the source of both the aiohttp
router and the OpenAPI document (so the document cannot drift from the code)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query", "header"]
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    request: type | None = None
    response: type | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    #: "bearer": the route needs an access token (`Authorization: Bearer …`).
    auth: Literal["none", "bearer"] = "none"
    idempotent_create: bool = False
    #: The permission (`core.permissions`) the caller's current roles must grant; checked
    #: before the body is read, so a refused caller learns nothing from validation.
    permission: str | None = None
    name: str | None = None
    in_openapi: bool = True
