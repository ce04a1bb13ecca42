"""Identity, for the signed-in person: where they are signed in (sessions, named devices),
their password and second factor, and their security log.

Apart from `edge.routes.accounts` (which opens and recovers sessions) because every route
here takes a token and acts on the caller's own account.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any

import msgspec
import segno
from aiohttp import web

from core.ids import is_uuid
from core.ratelimit import LockedOut
from edge.auth import Principal, principal, send_as
from edge.bodies import read_json
from edge.context import infra, wait_for_position
from edge.params import INT64_MAX, IntQuery
from edge.routes.accounts import account_route, no_store_json
from edge.routing import Param, Route
from edge.session_cookies import clear_session_cookies, cookie_delivery
from handlers.accounts.commands import (
    ChangePassword,
    Code,
    DisableTwoFactor,
    EnableTwoFactor,
    EndSession,
    Password,
    RenameDevice,
    StartTwoFactorSetup,
)
from handlers.accounts.credentials import totp_uri
from handlers.accounts.errors import (
    AccountNotFound,
    InvalidSecondFactor,
    SessionNotFound,
    TwoFactorState,
    WeakPassword,
    WrongPassword,
)
from projections import security_log as security_log_model
from projections import sessions as sessions_model

# -- bodies and answers ----------------------------------------------------------------------


class PasswordChangeBody(msgspec.Struct, forbid_unknown_fields=True):
    old_password: Password
    new_password: Password


class CodeBody(msgspec.Struct, forbid_unknown_fields=True):
    code: Code


class TwoFactorSetup(msgspec.Struct):
    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodes(msgspec.Struct):
    recovery_codes: list[str]


class SessionView(msgspec.Struct):
    id: str
    device: str
    ip: str | None
    method: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


class SessionList(msgspec.Struct):
    items: list[SessionView]


class LogEntry(msgspec.Struct):
    kind: str
    at: datetime
    detail: dict[str, Any]


class SecurityLog(msgspec.Struct):
    items: list[LogEntry]
    next_before: int | None


# -- sessions --------------------------------------------------------------------------------


async def list_sessions(request: web.Request) -> web.Response:
    who = await principal(request)
    await wait_for_position(request, "sessions")
    items = [
        SessionView(
            id=r.session_id,
            device=r.device,
            ip=ip,
            method=r.method,
            created_at=r.opened_at,
            last_seen_at=r.last_seen_at,
            current=r.session_id == who.session_id,
        )
        for r, ip in await _open_sessions(request, who)
    ]
    return no_store_json(200, SessionList(items))


async def _open_sessions(
    request: web.Request, who: Principal
) -> list[tuple[sessions_model.SessionRow, str | None]]:
    """The person's open sessions with their IP addresses opened (for their eyes only)."""
    i = infra(request)
    rows = await sessions_model.active_sessions(i.pool, who.user_id)
    return [(r, await i.vault.open(who.user_id, "ip", r.ip) if r.ip else None) for r in rows]


async def end_session(request: web.Request) -> web.Response:
    who = await principal(request)
    cookie = cookie_delivery(request)
    session_id = request.match_info["session_id"]
    if not is_uuid(session_id):
        raise SessionNotFound()
    await send_as(request, EndSession(session_id=session_id, reason="revoked"), who)
    response = web.Response(status=204)
    if cookie and session_id == who.session_id:
        # A browser ending its own session: its cookies hold nothing any more.
        clear_session_cookies(response)
    return response


# -- devices ---------------------------------------------------------------------------------


class DeviceView(msgspec.Struct):
    id: str
    #: The name the person gave it, else the one read from its User-Agent.
    name: str
    device: str
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool
    #: A push subscription will be attached here (Web Push, FCM).
    push_subscription: dict[str, Any] | None = None


class DeviceList(msgspec.Struct):
    items: list[DeviceView]


class DeviceNameBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


async def list_devices(request: web.Request) -> web.Response:
    who = await principal(request)
    await wait_for_position(request, "sessions")
    items = [
        DeviceView(
            id=r.session_id,
            name=r.name or r.device,
            device=r.device,
            ip=ip,
            created_at=r.opened_at,
            last_seen_at=r.last_seen_at,
            current=r.session_id == who.session_id,
        )
        for r, ip in await _open_sessions(request, who)
    ]
    return no_store_json(200, DeviceList(items))


async def rename_device(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = request.match_info["device_id"]
    if not is_uuid(session_id):
        raise SessionNotFound()
    body = await read_json(request, DeviceNameBody, max_bytes=4096)
    reply = await send_as(request, RenameDevice(session_id=session_id, name=body.name), who)
    return web.Response(status=204, headers={"Quark-Position": reply.position or ""})


# -- passwords -------------------------------------------------------------------------------


async def change_password(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, PasswordChangeBody, max_bytes=4096)
    await send_as(
        request,
        ChangePassword(
            old_password=body.old_password,
            new_password=body.new_password,
            session_id=who.session_id,
        ),
        who,
    )
    return web.Response(status=204)


# -- second factor ---------------------------------------------------------------------------


def _qr_svg(uri: str) -> str:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False)
    return out.getvalue().decode()


async def totp_setup(request: web.Request) -> web.Response:
    who = await principal(request)
    reply = await send_as(request, StartTwoFactorSetup(), who)
    secret = reply.result["secret"]
    uri = totp_uri(secret, f"Quark:{who.user_id[:8]}")
    return no_store_json(200, TwoFactorSetup(secret=secret, otpauth_uri=uri, qr_svg=_qr_svg(uri)))


async def totp_enable(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CodeBody, max_bytes=4096)
    reply = await send_as(request, EnableTwoFactor(code=body.code), who)
    return no_store_json(200, RecoveryCodes(reply.result["recovery_codes"]))


async def totp_disable(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CodeBody, max_bytes=4096)
    await send_as(request, DisableTwoFactor(code=body.code), who)
    return web.Response(status=204)


# -- security log ----------------------------------------------------------------------------


async def security_log(request: web.Request) -> web.Response:
    who = await principal(request)
    await wait_for_position(request, "security_log")
    before = _LOG_BEFORE.read_optional(request)
    size = _LOG_LIMIT.read(request)
    rows = await security_log_model.entries(
        infra(request).pool, who.user_id, before=before, limit=size
    )
    next_before = rows[-1].position if len(rows) == size else None
    items = [LogEntry(r.kind, r.at, r.detail) for r in rows]
    return no_store_json(200, SecurityLog(items, next_before))


_SESSION_ID = Param("session_id", "path", "Session id", {"type": "string", "format": "uuid"})
_LOG_BEFORE = IntQuery("before", "Page before this position", minimum=1, maximum=INT64_MAX)
_LOG_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=200, default=50)

ROUTES: list[Route] = [
    account_route(
        "GET",
        "/v1/auth/sessions",
        list_sessions,
        "My open sessions",
        auth="bearer",
        after=True,
        response=SessionList,
        while_suspended=True,
    ),
    account_route(
        "GET",
        "/v1/me/devices",
        list_devices,
        "My devices (my open sessions, named)",
        auth="bearer",
        after=True,
        response=DeviceList,
    ),
    account_route(
        "PATCH",
        "/v1/me/devices/{device_id}",
        rename_device,
        "Name one of my devices",
        auth="bearer",
        request=DeviceNameBody,
        status=204,
        raises=(SessionNotFound,),
        params=(
            Param("device_id", "path", "Device (session) id", {"type": "string", "format": "uuid"}),
        ),
    ),
    account_route(
        "DELETE",
        "/v1/auth/sessions/{session_id}",
        end_session,
        "End one of my sessions",
        auth="bearer",
        status=204,
        raises=(SessionNotFound,),
        params=(_SESSION_ID,),
        session_cookies="sets",
        while_suspended=True,
    ),
    account_route(
        "POST",
        "/v1/auth/password",
        change_password,
        "Change my password (ends my other sessions)",
        auth="bearer",
        request=PasswordChangeBody,
        status=204,
        raises=(WrongPassword, WeakPassword, LockedOut, AccountNotFound),
    ),
    account_route(
        "POST",
        "/v1/auth/2fa/setup",
        totp_setup,
        "Start TOTP setup: secret, otpauth URI, QR code",
        auth="bearer",
        response=TwoFactorSetup,
        raises=(TwoFactorState,),
    ),
    account_route(
        "POST",
        "/v1/auth/2fa/enable",
        totp_enable,
        "Enable TOTP with a first code; get recovery codes",
        auth="bearer",
        request=CodeBody,
        response=RecoveryCodes,
        raises=(TwoFactorState, InvalidSecondFactor, LockedOut),
    ),
    account_route(
        "POST",
        "/v1/auth/2fa/disable",
        totp_disable,
        "Disable TOTP with a code or a recovery code",
        auth="bearer",
        request=CodeBody,
        status=204,
        raises=(TwoFactorState, InvalidSecondFactor, LockedOut),
    ),
    account_route(
        "GET",
        "/v1/me/security-log",
        security_log,
        "My security log, newest first",
        auth="bearer",
        after=True,
        response=SecurityLog,
        params=(_LOG_BEFORE.param, _LOG_LIMIT.param),
    ),
]
