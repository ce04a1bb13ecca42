"""Your data (docs/api.md): the signed-in person's export of everything held about them,
and the erasure of their account.

Apart from the other identity routes because both deal with the account as a whole, and both
stay open to a suspended person's restricted session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from core.ratelimit import LockedOut
from edge.auth import principal, send_as
from edge.bodies import read_json
from edge.context import infra, wait_for_position
from edge.routes.accounts import account_route, limit_per_ip, no_store_json
from edge.routing import Route
from handlers.accounts.commands import Code, EraseAccount, ExportAccount, Password
from handlers.accounts.errors import AccountNotFound, InvalidSecondFactor, WrongPassword
from projections import posts as posts_model
from projections import profiles as profiles_model
from projections import security_log as security_log_model
from projections import sessions as sessions_model


class EraseBody(msgspec.Struct, forbid_unknown_fields=True):
    password: Password
    #: A TOTP or recovery code, required when two-factor authentication is on.
    code: Code | None = None


class Export(msgspec.Struct):
    """Everything the platform holds about the person, as one JSON document."""

    exported_at: datetime
    account: dict[str, Any]
    profile: dict[str, Any] | None
    sessions: list[dict[str, Any]]
    security_log: list[dict[str, Any]]
    posts: list[dict[str, Any]]


async def erase_me(request: web.Request) -> web.Response:
    who = await principal(request)
    await limit_per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, EraseBody, max_bytes=4096)
    await send_as(request, EraseAccount(password=body.password, code=body.code), who)
    return web.Response(status=204)


async def export_me(request: web.Request) -> web.Response:
    who = await principal(request)
    await limit_per_ip(request, "limit_auth_per_ip")
    i = infra(request)
    reply = await send_as(request, ExportAccount(), who)
    await wait_for_position(request, "profiles")
    profile = await profiles_model.by_user(i.pool, who.user_id)
    sessions = await sessions_model.active_sessions(i.pool, who.user_id)
    log = await security_log_model.entries(i.pool, who.user_id, before=None, limit=10_000)
    # Read as their author: hidden posts, and a limited person's, are theirs all the same.
    posts = await posts_model.list_posts(
        i.pool,
        author_id=who.user_id,
        before_seq=None,
        before_time=None,
        limit=10_000,
        viewer=who.user_id,
    )
    document = Export(
        exported_at=datetime.now(UTC),
        account=reply.result or {},
        profile=msgspec.structs.asdict(profile) if profile else None,
        sessions=[
            {
                **msgspec.structs.asdict(s),
                "ip": await i.vault.open(who.user_id, "ip", s.ip) if s.ip else None,
            }
            for s in sessions
        ],
        security_log=[msgspec.structs.asdict(e) for e in log],
        posts=[msgspec.structs.asdict(p) for p in posts],
    )
    return no_store_json(
        200,
        document,
        {"Content-Disposition": 'attachment; filename="quark-export.json"'},
    )


ROUTES: list[Route] = [
    account_route(
        "DELETE",
        "/v1/me",
        erase_me,
        "Erase my account and personal data (password, and a code with 2FA)",
        auth="bearer",
        request=EraseBody,
        status=204,
        limited=True,
        raises=(WrongPassword, InvalidSecondFactor, LockedOut, AccountNotFound),
        while_suspended=True,
    ),
    account_route(
        "GET",
        "/v1/me/export",
        export_me,
        "Everything held about me, as a JSON download",
        auth="bearer",
        after=True,
        limited=True,
        response=Export,
        raises=(AccountNotFound,),
        while_suspended=True,
    ),
]
