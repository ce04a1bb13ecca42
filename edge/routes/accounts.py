"""Identity: phone sign-up with SMS codes, sign-in (with TOTP), tokens, sessions, passwords,
second factor, the security log, and the public signing keys.

Every endpoint that sends an SMS, checks a code or a password is rate-limited per IP (and
per phone where one is given); failures count towards lockouts in the handler.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import segno
from aiohttp import web

from core.commands import CommandReply
from core.errors import QuarkError
from core.ids import is_uuid
from core.ratelimit import LockedOut, Rule
from core.signing import sign, unsign
from edge.auth import TOKENS, Principal, issue, principal, send_as
from edge.bodies import read_json
from edge.context import client_ip, infra, limit, wait_for_position
from edge.params import INT64_MAX, IntQuery
from edge.routing import Param, Route
from edge.wordfilter import file_report, screened
from handlers.accounts.commands import (
    ChangePassword,
    Code,
    CompleteSecondFactor,
    DisableTwoFactor,
    DisplayName,
    EnableTwoFactor,
    EndSession,
    EraseAccount,
    ExportAccount,
    LogIn,
    Password,
    Phone,
    RefreshSession,
    Register,
    RenameDevice,
    ResendVerificationCode,
    ResetPassword,
    StartPhoneVerification,
    StartTwoFactorSetup,
    Token,
    VerifyPhone,
)
from handlers.accounts.credentials import totp_uri
from handlers.accounts.devices import device_name
from handlers.accounts.errors import (
    AccountNotFound,
    InvalidCredentials,
    InvalidMfaToken,
    InvalidPhone,
    InvalidRefreshToken,
    InvalidRegistration,
    InvalidSecondFactor,
    PhoneTaken,
    RefreshTokenReusedError,
    ResendTooSoon,
    SessionNotFound,
    TwoFactorState,
    VerificationExhausted,
    VerificationExpired,
    VerificationNotFound,
    VerificationUsed,
    WeakPassword,
    WrongCode,
    WrongPassword,
)
from handlers.accounts.procedures import normalise_phone
from handlers.moderation.errors import WordFilterBlocked
from projections import posts as posts_model
from projections import profiles as profiles_model
from projections import security_log as security_log_model
from projections import sessions as sessions_model

_encoder = msgspec.json.Encoder()
REGISTRATION_TTL = 15 * 60
MFA_TTL = 5 * 60


# -- bodies and answers ----------------------------------------------------------------------


class PhoneBody(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone


class VerificationIdBody(msgspec.Struct, forbid_unknown_fields=True):
    verification_id: str


class VerifyBody(msgspec.Struct, forbid_unknown_fields=True):
    verification_id: str
    code: Code


class RegisterBody(msgspec.Struct, forbid_unknown_fields=True):
    registration_token: Token
    password: Password
    display_name: DisplayName


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    password: Password


class SecondFactorBody(msgspec.Struct, forbid_unknown_fields=True):
    mfa_token: Token
    code: Code


class RefreshBody(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Token


class PasswordChangeBody(msgspec.Struct, forbid_unknown_fields=True):
    old_password: Password
    new_password: Password


class ResetBody(msgspec.Struct, forbid_unknown_fields=True):
    verification_id: str
    code: Code
    new_password: Password


class CodeBody(msgspec.Struct, forbid_unknown_fields=True):
    code: Code


class VerificationStarted(msgspec.Struct):
    verification_id: str
    expires_in: int
    resend_after: int


class RegistrationToken(msgspec.Struct):
    registration_token: str
    expires_in: int


class Tokens(msgspec.Struct):
    user_id: str
    session_id: str
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    #: The sign-in's commit (also in `Quark-Position`): reads wait for it by themselves.
    position: str
    #: The account is suspended: this session reaches only what a suspended person may
    #: still do (appeal, export, erase, sign out; every other route answers 403
    #: `account-suspended`). A refresh after `suspended_until` gives a full session.
    restricted: bool = False
    #: With `restricted`: when the suspension ends (null: indefinitely).
    suspended_until: datetime | None = None


class LoginAnswer(msgspec.Struct, omit_defaults=True):
    """Tokens, or `mfa_required` with an `mfa_token` for `POST /v1/auth/login/2fa`."""

    mfa_required: bool = False
    mfa_token: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    access_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None
    refresh_token: str | None = None
    position: str | None = None
    #: As in `Tokens`: a suspended account's restricted session (`suspended_until` absent:
    #: indefinitely).
    restricted: bool = False
    suspended_until: datetime | None = None


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


# -- helpers ---------------------------------------------------------------------------------


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=_encoder.encode(value),
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _device(request: web.Request) -> str:
    return device_name(request.headers.get("User-Agent", "")[:1000])


async def _per_ip(request: web.Request, setting: str) -> None:
    """`setting`'s rate for the client's address. The general auth limit counts each
    endpoint on its own (as Mastodon does), so refreshing tokens behind a shared address
    never uses up the sign-ins; SMS limits count every SMS-sending endpoint together."""
    i = infra(request)
    name = f"{setting}:{request.path}" if setting == "limit_auth_per_ip" else setting
    rule = Rule.parse(name, getattr(i.settings, setting))
    await limit(request, rule, i.vault.lookup_hash("ip", client_ip(request)))


def _tokens(request: web.Request, reply: CommandReply) -> Tokens:
    result = reply.result or {}
    restricted = bool(result.get("restricted"))
    ends = result.get("suspended_until")
    until = datetime.fromisoformat(ends) if restricted and ends else None
    issued = issue(
        request,
        result["user_id"],
        result["session_id"],
        result["roles"],
        restricted=restricted,
        suspended_until=until,
    )
    return Tokens(
        user_id=result["user_id"],
        session_id=result["session_id"],
        access_token=str(issued["access_token"]),
        token_type="Bearer",
        expires_in=int(issued["expires_in"]),  # type: ignore[call-overload]
        refresh_token=result["refresh_token"],
        position=reply.position or "",
        restricted=restricted,
        suspended_until=until,
    )


def _verification_started(request: web.Request, verification_id: str) -> web.Response:
    body = VerificationStarted(
        verification_id=verification_id,
        expires_in=infra(request).settings.verification_code_ttl_seconds,
        resend_after=infra(request).settings.verification_resend_after_seconds,
    )
    return _json(202, body)


def _vid(value: str) -> str:
    if not is_uuid(value):
        raise VerificationNotFound()
    return value


# -- sign-up ---------------------------------------------------------------------------------


async def _start(request: web.Request, purpose: str) -> web.Response:
    i = infra(request)
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, PhoneBody, max_bytes=4096)
    phone = normalise_phone(body.phone)
    await _per_ip(request, "limit_sms_per_ip")
    rule = Rule.parse("limit_sms_per_phone", i.settings.limit_sms_per_phone)
    await limit(request, rule, i.vault.lookup_hash("phone", phone))
    reply = await send_as(request, StartPhoneVerification(phone=phone, purpose=purpose))  # type: ignore[arg-type]
    return _verification_started(request, reply.result["verification_id"])


async def phone_start(request: web.Request) -> web.Response:
    return await _start(request, "signup")


async def phone_resend(request: web.Request) -> web.Response:
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, VerificationIdBody, max_bytes=4096)
    await _per_ip(request, "limit_sms_per_ip")
    reply = await send_as(
        request, ResendVerificationCode(verification_id=_vid(body.verification_id))
    )
    return _verification_started(request, reply.result["verification_id"])


async def phone_verify(request: web.Request) -> web.Response:
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, VerifyBody, max_bytes=4096)
    vid = _vid(body.verification_id)
    await send_as(request, VerifyPhone(verification_id=vid, code=body.code))
    token = sign(
        infra(request).secret_key,
        "registration",
        {"v": vid},
        expires_at=int(time.time()) + REGISTRATION_TTL,
    )
    return _json(200, RegistrationToken(token, REGISTRATION_TTL))


async def register(request: web.Request) -> web.Response:
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, RegisterBody, max_bytes=4096)
    try:
        vid = unsign(
            infra(request).secret_key, "registration", body.registration_token, now=time.time()
        )["v"]
    except (ValueError, KeyError):
        raise InvalidRegistration() from None
    # A display name is a profile's text: screened by the word filter like a change of it.
    verdict = await screened(request, "profiles", {"display_name": body.display_name})
    name = verdict.texts["display_name"] or body.display_name
    reply = await send_as(
        request,
        Register(
            verification_id=vid,
            password=body.password,
            display_name=name,
            device=_device(request),
            ip=client_ip(request),
        ),
    )
    tokens = _tokens(request, reply)
    await file_report(
        request,
        verdict,
        reply,
        target_type="user",
        target_id=tokens.user_id,
        author_id=tokens.user_id,
        title=name,
    )
    return _json(201, tokens)


# -- sign-in ---------------------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, LoginBody, max_bytes=4096)
    reply = await send_as(
        request,
        LogIn(
            phone=body.phone,
            password=body.password,
            device=_device(request),
            ip=client_ip(request),
        ),
    )
    result = reply.result or {}
    if result.get("mfa_required"):
        token = sign(
            infra(request).secret_key,
            "mfa",
            {"u": result["user_id"]},
            expires_at=int(time.time()) + MFA_TTL,
        )
        return _json(200, LoginAnswer(mfa_required=True, mfa_token=token, position=reply.position))
    return _json(200, LoginAnswer(**msgspec.structs.asdict(_tokens(request, reply))))


async def login_second_factor(request: web.Request) -> web.Response:
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, SecondFactorBody, max_bytes=4096)
    try:
        user_id = unsign(infra(request).secret_key, "mfa", body.mfa_token, now=time.time())["u"]
    except (ValueError, KeyError):
        raise InvalidMfaToken() from None
    reply = await send_as(
        request,
        CompleteSecondFactor(
            user_id=user_id, code=body.code, device=_device(request), ip=client_ip(request)
        ),
    )
    return _json(200, _tokens(request, reply))


async def refresh(request: web.Request) -> web.Response:
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, RefreshBody, max_bytes=4096)
    reply = await send_as(request, RefreshSession(refresh_token=body.refresh_token))
    return _json(200, _tokens(request, reply))


async def logout(request: web.Request) -> web.Response:
    who = await principal(request)
    await send_as(request, EndSession(session_id=who.session_id, reason="logout"), who)
    return web.Response(status=204)


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
    return _json(200, SessionList(items))


async def _open_sessions(
    request: web.Request, who: Principal
) -> list[tuple[sessions_model.SessionRow, str | None]]:
    """The person's open sessions with their IP addresses opened (for their eyes only)."""
    i = infra(request)
    rows = await sessions_model.active_sessions(i.pool, who.user_id)
    return [(r, await i.vault.open(who.user_id, "ip", r.ip) if r.ip else None) for r in rows]


async def end_session(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = request.match_info["session_id"]
    if not is_uuid(session_id):
        raise SessionNotFound()
    await send_as(request, EndSession(session_id=session_id, reason="revoked"), who)
    return web.Response(status=204)


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
    return _json(200, DeviceList(items))


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


async def reset_start(request: web.Request) -> web.Response:
    return await _start(request, "reset")


async def reset_password(request: web.Request) -> web.Response:
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, ResetBody, max_bytes=4096)
    await send_as(
        request,
        ResetPassword(
            verification_id=_vid(body.verification_id),
            code=body.code,
            new_password=body.new_password,
        ),
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
    return _json(200, TwoFactorSetup(secret=secret, otpauth_uri=uri, qr_svg=_qr_svg(uri)))


async def totp_enable(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CodeBody, max_bytes=4096)
    reply = await send_as(request, EnableTwoFactor(code=body.code), who)
    return _json(200, RecoveryCodes(reply.result["recovery_codes"]))


async def totp_disable(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CodeBody, max_bytes=4096)
    await send_as(request, DisableTwoFactor(code=body.code), who)
    return web.Response(status=204)


# -- erasure and export ----------------------------------------------------------------------


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
    await _per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, EraseBody, max_bytes=4096)
    await send_as(request, EraseAccount(password=body.password, code=body.code), who)
    return web.Response(status=204)


async def export_me(request: web.Request) -> web.Response:
    who = await principal(request)
    await _per_ip(request, "limit_auth_per_ip")
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
    return _json(
        200,
        document,
        {"Content-Disposition": 'attachment; filename="quark-export.json"'},
    )


# -- security log, keys ----------------------------------------------------------------------


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
    return _json(200, SecurityLog(items, next_before))


async def jwks(request: web.Request) -> web.Response:
    keys = request.app[TOKENS].ring.jwks(int(time.time()))
    return web.Response(
        body=_encoder.encode(keys),
        content_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _route(method: str, path: str, handler: Any, summary: str, **kw: Any) -> Route:
    return Route(method, path, handler, summary, tag="accounts", **kw)


#: A verification's states a code or a resend can meet.
_VERIFICATION = (VerificationNotFound, VerificationUsed, VerificationExhausted)
_CODE = (*_VERIFICATION, VerificationExpired, WrongCode)
_SESSION_ID = Param("session_id", "path", "Session id", {"type": "string", "format": "uuid"})
_LOG_BEFORE = IntQuery("before", "Page before this position", minimum=1, maximum=INT64_MAX)
_LOG_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=200, default=50)

ROUTES: list[Route] = [
    _route(
        "POST",
        "/v1/auth/phone/start",
        phone_start,
        "Send a sign-up code by SMS",
        request=PhoneBody,
        response=VerificationStarted,
        status=202,
        limited=True,
        raises=(InvalidPhone,),
    ),
    _route(
        "POST",
        "/v1/auth/phone/resend",
        phone_resend,
        "Send a new code (after resend_after)",
        request=VerificationIdBody,
        response=VerificationStarted,
        status=202,
        limited=True,
        raises=(*_VERIFICATION, ResendTooSoon),
    ),
    _route(
        "POST",
        "/v1/auth/phone/verify",
        phone_verify,
        "Check the SMS code",
        request=VerifyBody,
        response=RegistrationToken,
        limited=True,
        raises=_CODE,
    ),
    _route(
        "POST",
        "/v1/auth/register",
        register,
        "Create the account of a verified phone",
        request=RegisterBody,
        response=Tokens,
        status=201,
        limited=True,
        raises=(InvalidRegistration, WeakPassword, PhoneTaken, VerificationUsed, WordFilterBlocked),
        # The word filter's rules as of the writes the request names.
        after=True,
    ),
    _route(
        "POST",
        "/v1/auth/login",
        login,
        "Sign in with phone and password",
        request=LoginBody,
        response=LoginAnswer,
        limited=True,
        raises=(InvalidCredentials, LockedOut),
    ),
    _route(
        "POST",
        "/v1/auth/login/2fa",
        login_second_factor,
        "Finish a sign-in with a TOTP or recovery code",
        request=SecondFactorBody,
        response=Tokens,
        limited=True,
        raises=(
            InvalidMfaToken,
            InvalidCredentials,
            InvalidSecondFactor,
            LockedOut,
        ),
    ),
    _route(
        "POST",
        "/v1/auth/refresh",
        refresh,
        "Exchange a refresh token (rotated on every use)",
        request=RefreshBody,
        response=Tokens,
        limited=True,
        raises=(InvalidRefreshToken, RefreshTokenReusedError),
    ),
    _route(
        "POST",
        "/v1/auth/logout",
        logout,
        "End this session",
        auth="bearer",
        status=204,
        raises=(SessionNotFound,),
        while_suspended=True,
    ),
    _route(
        "GET",
        "/v1/auth/sessions",
        list_sessions,
        "My open sessions",
        auth="bearer",
        after=True,
        response=SessionList,
        while_suspended=True,
    ),
    _route(
        "GET",
        "/v1/me/devices",
        list_devices,
        "My devices (my open sessions, named)",
        auth="bearer",
        after=True,
        response=DeviceList,
    ),
    _route(
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
    _route(
        "DELETE",
        "/v1/auth/sessions/{session_id}",
        end_session,
        "End one of my sessions",
        auth="bearer",
        status=204,
        raises=(SessionNotFound,),
        params=(_SESSION_ID,),
        while_suspended=True,
    ),
    _route(
        "POST",
        "/v1/auth/password",
        change_password,
        "Change my password (ends my other sessions)",
        auth="bearer",
        request=PasswordChangeBody,
        status=204,
        raises=(WrongPassword, WeakPassword, LockedOut, AccountNotFound),
    ),
    _route(
        "POST",
        "/v1/auth/password/reset/start",
        reset_start,
        "Send a password-reset code by SMS",
        request=PhoneBody,
        response=VerificationStarted,
        status=202,
        limited=True,
        raises=(InvalidPhone,),
    ),
    _route(
        "POST",
        "/v1/auth/password/reset",
        reset_password,
        "Set a new password with the SMS code",
        request=ResetBody,
        status=204,
        limited=True,
        raises=(*_CODE, WeakPassword, InvalidCredentials),
    ),
    _route(
        "POST",
        "/v1/auth/2fa/setup",
        totp_setup,
        "Start TOTP setup: secret, otpauth URI, QR code",
        auth="bearer",
        response=TwoFactorSetup,
        raises=(TwoFactorState,),
    ),
    _route(
        "POST",
        "/v1/auth/2fa/enable",
        totp_enable,
        "Enable TOTP with a first code; get recovery codes",
        auth="bearer",
        request=CodeBody,
        response=RecoveryCodes,
        raises=(TwoFactorState, InvalidSecondFactor, LockedOut),
    ),
    _route(
        "POST",
        "/v1/auth/2fa/disable",
        totp_disable,
        "Disable TOTP with a code or a recovery code",
        auth="bearer",
        request=CodeBody,
        status=204,
        raises=(TwoFactorState, InvalidSecondFactor, LockedOut),
    ),
    _route(
        "GET",
        "/v1/me/security-log",
        security_log,
        "My security log, newest first",
        auth="bearer",
        after=True,
        response=SecurityLog,
        params=(_LOG_BEFORE.param, _LOG_LIMIT.param),
    ),
    _route("GET", "/.well-known/jwks.json", jwks, "Public keys that sign access tokens"),
    _route(
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
    _route(
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

__all__ = ["ROUTES", "QuarkError"]
