"""Route declarations: one literal table per route module, the source of both the aiohttp
router and the OpenAPI document (so the document cannot drift from the code).

A route declares what its handler does (reads a body, needs a token, honours `Quark-After`,
is rate-limited) and the domain error *classes* it raises; the statuses and problem types a
client can meet are derived from that in `edge.openapi`, never listed as numbers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from core.errors import QuarkError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query", "header", "cookie"]
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
    #: The domain errors the handler (or the command it sends) raises, beyond those every
    #: route of its kind meets (`edge.openapi.error_classes`): each carries its status and
    #: its stable problem type, so the document lists exactly what a client can switch on.
    raises: tuple[type[QuarkError], ...] = ()
    #: "bearer": the route needs an access token (`Authorization: Bearer …`); "optional": a
    #: token is not needed, but one that is sent must be valid (401 otherwise).
    auth: Literal["none", "bearer", "optional"] = "none"
    #: The handler honours `Quark-After` (or `?after=`): it waits for a position (422 for a
    #: malformed one, 503 when the read model does not get there in time).
    after: bool = False
    #: The handler applies a rate limit (429 with Retry-After; RateLimit-* on its answers).
    limited: bool = False
    #: Statuses the handler answers with a body of its own instead of a problem document
    #: (readiness answers 503 with its checks).
    answers: tuple[tuple[int, type], ...] = ()
    #: The body may be left out (`edge.bodies.read_optional_json`): a refresh by cookie.
    optional_body: bool = False
    #: Browser clients' session cookies (`edge.session_cookies`). "sets": with
    #: `Quark-Session: cookie` the handler answers the refresh token in `Set-Cookie` (or
    #: clears the cookies) instead of the body; "reads": it also takes the session from the
    #: refresh cookie, which needs the `Quark-CSRF` header (403 `csrf-failed`).
    session_cookies: Literal["none", "sets", "reads"] = "none"
    idempotent_create: bool = False
    #: Honours `Idempotency-Key` like a creating route, for a command that creates no one
    #: resource to point `Location` at (a bulk decision).
    idempotent: bool = False
    #: A body the handler streams itself (media uploads): the request body's OpenAPI
    #: `content` map; the body is never read whole (not even for an `Idempotency-Key`).
    upload: dict[str, Any] | None = None
    #: A suspended person's restricted session may use it (`edge.auth.while_suspended`):
    #: what they may still do — read their standing and the decisions about them, appeal,
    #: export their data, erase their account, see and end their sessions. Every other
    #: route answers such a session 403 `account-suspended`.
    while_suspended: bool = False
    #: The permission (`core.permissions`) the caller's current roles must grant; checked
    #: before the body is read, so a refused caller learns nothing from validation.
    permission: str | None = None
    name: str | None = None
    in_openapi: bool = True
