"""Who is calling: bearer access tokens (EdDSA JWTs, `core.tokens`) checked on every request,
including whether their session has ended and whether their roles changed since the token
was issued (the edge's in-memory copy of the ACCESS stream, `core.access`).

The key ring lives in the `signing_keys` bucket: every edge process signs with the newest key
and verifies with any live one, and picks up `quark keys rotate` without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from core.access import AccessList
from core.commands import Command, CommandReply
from core.errors import QuarkError
from core.ids import is_uuid
from core.permissions import require
from core.tokens import KeyRing, TokenService
from edge.context import COMMAND_POSITION, INFRA, WRITES, command_id_for, correlation_id
from edge.routing import Handler

TOKENS = web.AppKey("tokens", TokenService)
ACCESS = web.AppKey("access", AccessList)
PRINCIPAL = web.RequestKey("principal", object)


class Unauthenticated(QuarkError):
    code = "unauthenticated"
    status = 401
    title = "Authentication is required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="quark"'})


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str
    roles: frozenset[str]
    #: When the access token expires (unix seconds): long-lived connections end there.
    expires_at: int = 0


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    raise Unauthenticated("send Authorization: Bearer <access token>")


async def principal(request: web.Request) -> Principal:
    """The verified caller, or 401 (`invalid-token` says why a token was refused)."""
    cached = request.get(PRINCIPAL)
    if isinstance(cached, Principal):
        return cached
    who = await verify_access_token(request.app, _bearer(request))
    request[PRINCIPAL] = who
    return who


async def verify_access_token(app: web.Application, token: str) -> Principal:
    """Who `token` speaks for, or 401: the check behind every request, and behind the live
    channel's `auth` frame (whose token travels in a frame, never in a URL)."""
    claims = await app[TOKENS].verify(token, int(time.time()))
    if not is_uuid(claims.sub) or not is_uuid(claims.sid):
        raise Unauthenticated("the token names no user")
    access = app[ACCESS]
    # Every session ended and every role changed before this request arrived is in the copy
    # once this returns (503 while the copy is not in sync).
    await access.current()
    if access.is_revoked(claims.sid):
        raise Unauthenticated("this session has ended; sign in again")
    return Principal(claims.sub, claims.sid, access.roles_of(claims.sub, claims.roles), claims.exp)


async def optional_principal(request: web.Request) -> Principal | None:
    """The caller if they sent a token (which must then be valid), else None: public reads
    that show a signed-in person less (posts of people who blocked them)."""
    if "Authorization" not in request.headers:
        return None
    return await principal(request)


async def send_as(
    request: web.Request, command: Command, who: Principal | None = None, *, step: str = ""
) -> CommandReply:
    """Send `command` on behalf of `who` (nobody: a sign-up or sign-in), with this
    request's correlation id; the handler checks the roles again inside `decide`. Under an
    `Idempotency-Key` the command id derives from the key (`step` tells apart several
    commands of one request), so a retry is the same command."""
    reply = await request.app[INFRA].bus.send(
        command,
        actor=who.user_id if who else None,
        roles=who.roles if who else frozenset(),
        correlation_id=correlation_id(request),
        command_id=command_id_for(request, step),
    )
    if reply.position:
        request[COMMAND_POSITION] = reply.position
        writer = reply.writer or (who.user_id if who else None)
        if writer:
            # This process need not wait for the handler's announcement to come round.
            request.app[WRITES].record(writer, reply.position)
    return reply


def guarded(handler: Handler, permission: str) -> Handler:
    """`handler` behind a permission check with the caller's current roles (a role revoked
    a moment ago is gone here, whatever the caller's token still says)."""

    async def check(request: web.Request) -> web.StreamResponse:
        require((await principal(request)).roles, permission)
        return await handler(request)

    return check


async def acting_user(request: web.Request) -> str:
    return (await principal(request)).user_id


def issue(
    request: web.Request, user_id: str, session_id: str, roles: list[str]
) -> dict[str, object]:
    """The token part of every sign-in answer."""
    token, expires_in = request.app[TOKENS].issue(user_id, session_id, roles, int(time.time()))
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


async def tokens_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load (or, on a first start, create) the signing keys and keep them fresh; load the
    copy of ended sessions and changed roles and keep it current."""
    infra = app[INFRA]
    ring = await KeyRing.connect(infra.nc.jetstream(), infra.secret_key)
    await ring.ensure(int(time.time()))
    app[TOKENS] = TokenService(ring)
    access = app[ACCESS] = AccessList(infra.nc, infra.settings.nats_url)
    await access.start()
    refresher = asyncio.create_task(ring.keep_fresh())
    yield
    refresher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await refresher
    await access.stop()
