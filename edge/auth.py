"""Who is calling: bearer access tokens (EdDSA JWTs, `core.tokens`) checked on every request,
including whether their session has ended and whether their roles changed since the token
was issued (the edge's in-memory copy of the ACCESS stream, `core.access`).

A suspended person signs in to a restricted session (Mastodon's restricted page): its token
says `restricted`, and `principal` refuses it (403 `account-suspended`, with the suspension's
end) on every route but those declared `while_suspended` — read their standing and the
decisions about them, appeal, export, erase, see and end their sessions. A restricted token
whose suspension has ended acts as a full one: every later suspension ends every session
(`handlers.accounts.standing`), so no restricted token outlives a suspension it did not name.

The key ring lives in the `signing_keys` bucket: every edge process signs with the newest key
and verifies with any live one, and picks up `quark keys rotate` without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from core.access import AccessList
from core.commands import Command, CommandReply
from core.errors import QuarkError
from core.ids import is_uuid
from core.permissions import require
from core.signing_keys import KeyRing
from core.tokens import TokenService
from edge.context import COMMAND_POSITION, INFRA, WRITES, command_id_for, correlation_id
from edge.routing import Handler
from handlers.accounts.errors import AccountSuspendedError

TOKENS = web.AppKey("tokens", TokenService)
ACCESS = web.AppKey("access", AccessList)
PRINCIPAL = web.RequestKey("principal", object)
#: Set for the routes a suspended account's restricted session may use.
WHILE_SUSPENDED = web.RequestKey("while_suspended", bool)


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
    #: A suspended account's session: only `while_suspended` routes serve it.
    restricted: bool = False
    #: With `restricted`: when the suspension ends (None: indefinitely).
    suspended_until: datetime | None = None


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    raise Unauthenticated("send Authorization: Bearer <access token>")


async def _verified(request: web.Request) -> Principal:
    cached = request.get(PRINCIPAL)
    if isinstance(cached, Principal):
        return cached
    who = await verify_access_token(request.app, _bearer(request))
    request[PRINCIPAL] = who
    return who


async def principal(request: web.Request) -> Principal:
    """The verified caller, or 401 (`invalid-token` says why a token was refused); 403
    `account-suspended` for a suspended account's session on a route not open to it."""
    who = await _verified(request)
    if who.restricted and not request.get(WHILE_SUSPENDED, False):
        raise AccountSuspendedError(until=who.suspended_until)
    return who


async def verify_access_token(app: web.Application, token: str) -> Principal:
    """Who `token` speaks for, or 401: the check behind every request, and behind the live
    channel's `auth` frame (whose token travels in a frame, never in a URL)."""
    now = int(time.time())
    claims = await app[TOKENS].verify(token, now)
    if not is_uuid(claims.sub) or not is_uuid(claims.sid):
        raise Unauthenticated("the token names no user")
    access = app[ACCESS]
    # Every session ended and every role changed before this request arrived is in the copy
    # once this returns (503 while the copy is not in sync).
    await access.current()
    if access.is_revoked(claims.sid):
        raise Unauthenticated("this session has ended; sign in again")
    ends = claims.suspended_until
    restricted = claims.restricted_at(now)
    return Principal(
        claims.sub,
        claims.sid,
        access.roles_of(claims.sub, claims.roles),
        claims.exp,
        restricted=restricted,
        suspended_until=datetime.fromtimestamp(ends, UTC) if restricted and ends else None,
    )


async def optional_principal(request: web.Request) -> Principal | None:
    """The caller if they sent a token (which must then be valid), else None: public reads
    that show a signed-in person less (posts of people who blocked them)."""
    if "Authorization" not in request.headers:
        return None
    return await principal(request)


async def token_holder(request: web.Request) -> Principal | None:
    """Whoever sent a valid token, restricted or not, else None: for read-your-writes,
    which serves nothing by itself (a token that is sent must still be valid)."""
    if "Authorization" not in request.headers:
        return None
    return await _verified(request)


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


def while_suspended(handler: Handler) -> Handler:
    """`handler` open to a suspended account's restricted session (`Route.while_suspended`)."""

    async def open_to_suspended(request: web.Request) -> web.StreamResponse:
        request[WHILE_SUSPENDED] = True
        return await handler(request)

    return open_to_suspended


async def acting_user(request: web.Request) -> str:
    return (await principal(request)).user_id


def issue(
    request: web.Request,
    user_id: str,
    session_id: str,
    roles: list[str],
    *,
    restricted: bool = False,
    suspended_until: datetime | None = None,
) -> dict[str, object]:
    """The token part of every sign-in answer; `restricted` for a suspended account."""
    token, expires_in = request.app[TOKENS].issue(
        user_id,
        session_id,
        roles,
        int(time.time()),
        restricted=restricted,
        suspended_until=math.ceil(suspended_until.timestamp()) if suspended_until else None,
    )
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
