"""Identity: phone sign-up with SMS codes, sign-in (with TOTP), tokens, sign-out, password
reset by SMS code, and the public signing keys: the routes that open (or recover) a session.
The signed-in person's own account is managed in `edge.routes.accounts_security` and
`edge.routes.accounts_data`, which share this module's answers, limits and route tag.

Every endpoint that sends an SMS, checks a code or a password is rate-limited per IP (and
per phone where one is given); failures count towards lockouts in the handler.

Browser clients ask for their refresh token in an HttpOnly cookie instead of the body, and
refresh and sign out with that cookie: `edge.session_cookies` says how and why.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from core.commands import CommandReply
from core.errors import FieldError, QuarkError, ValidationError
from core.ids import is_uuid
from core.ratelimit import LockedOut, Rule
from core.signing import sign, unsign
from edge.auth import TOKENS, Unauthenticated, issue, optional_principal, send_as
from edge.bodies import read_json, read_optional_json
from edge.context import client_ip, infra, limit
from edge.routing import Handler, Route
from edge.session_cookies import (
    CSRF_HEADER,
    REFRESH_COOKIE,
    clear_session_cookies,
    cookie_delivery,
    refresh_cookie,
    set_session_cookies,
)
from edge.wordfilter import file_report, screened
from handlers.accounts.commands import (
    Code,
    CompleteSecondFactor,
    DisplayName,
    EndSession,
    LogIn,
    LogOut,
    Password,
    Phone,
    RefreshSession,
    Register,
    ResendVerificationCode,
    ResetPassword,
    StartPhoneVerification,
    Token,
    VerifyPhone,
)
from handlers.accounts.devices import device_name
from handlers.accounts.errors import (
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
    VerificationExhausted,
    VerificationExpired,
    VerificationNotFound,
    VerificationUsed,
    WeakPassword,
    WrongCode,
)
from handlers.accounts.procedures import normalise_phone
from handlers.moderation.errors import WordFilterBlocked

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
    #: Left out (or no body at all): the browser's `quark_refresh` cookie, with `Quark-CSRF`.
    refresh_token: Token | None = None


class ResetBody(msgspec.Struct, forbid_unknown_fields=True):
    verification_id: str
    code: Code
    new_password: Password


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
    #: Null when it went into the `quark_refresh` cookie (`Quark-Session: cookie`).
    refresh_token: str | None
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
    #: Absent when it went into the `quark_refresh` cookie (`Quark-Session: cookie`).
    refresh_token: str | None = None
    position: str | None = None
    #: As in `Tokens`: a suspended account's restricted session (`suspended_until` absent:
    #: indefinitely).
    restricted: bool = False
    suspended_until: datetime | None = None


# -- helpers ---------------------------------------------------------------------------------


def no_store_json(
    status: int, value: object, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer no cache keeps: identity answers carry tokens and personal data."""
    return web.Response(
        status=status,
        body=_encoder.encode(value),
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _device(request: web.Request) -> str:
    return device_name(request.headers.get("User-Agent", "")[:1000])


async def limit_per_ip(request: web.Request, setting: str) -> None:
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


def _session_answer(
    request: web.Request, status: int, answer: Tokens | LoginAnswer, *, cookie: bool
) -> web.Response:
    """An answer that opens or renews a session: the refresh token in the body, or (a
    browser client) only in the HttpOnly cookie, the body carrying none."""
    if not cookie or answer.refresh_token is None:
        return no_store_json(status, answer)
    response = no_store_json(status, msgspec.structs.replace(answer, refresh_token=None))
    set_session_cookies(request, response, answer.refresh_token)
    return response


def _verification_started(request: web.Request, verification_id: str) -> web.Response:
    body = VerificationStarted(
        verification_id=verification_id,
        expires_in=infra(request).settings.verification_code_ttl_seconds,
        resend_after=infra(request).settings.verification_resend_after_seconds,
    )
    return no_store_json(202, body)


def _vid(value: str) -> str:
    if not is_uuid(value):
        raise VerificationNotFound()
    return value


# -- sign-up ---------------------------------------------------------------------------------


async def _start(request: web.Request, purpose: str) -> web.Response:
    i = infra(request)
    await limit_per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, PhoneBody, max_bytes=4096)
    phone = normalise_phone(body.phone)
    await limit_per_ip(request, "limit_sms_per_ip")
    rule = Rule.parse("limit_sms_per_phone", i.settings.limit_sms_per_phone)
    await limit(request, rule, i.vault.lookup_hash("phone", phone))
    reply = await send_as(request, StartPhoneVerification(phone=phone, purpose=purpose))  # type: ignore[arg-type]
    return _verification_started(request, reply.result["verification_id"])


async def phone_start(request: web.Request) -> web.Response:
    return await _start(request, "signup")


async def phone_resend(request: web.Request) -> web.Response:
    await limit_per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, VerificationIdBody, max_bytes=4096)
    await limit_per_ip(request, "limit_sms_per_ip")
    reply = await send_as(
        request, ResendVerificationCode(verification_id=_vid(body.verification_id))
    )
    return _verification_started(request, reply.result["verification_id"])


async def phone_verify(request: web.Request) -> web.Response:
    await limit_per_ip(request, "limit_auth_per_ip")
    body = await read_json(request, VerifyBody, max_bytes=4096)
    vid = _vid(body.verification_id)
    await send_as(request, VerifyPhone(verification_id=vid, code=body.code))
    token = sign(
        infra(request).secret_key,
        "registration",
        {"v": vid},
        expires_at=int(time.time()) + REGISTRATION_TTL,
    )
    return no_store_json(200, RegistrationToken(token, REGISTRATION_TTL))


async def register(request: web.Request) -> web.Response:
    await limit_per_ip(request, "limit_auth_per_ip")
    cookie = cookie_delivery(request)
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
    return _session_answer(request, 201, tokens, cookie=cookie)


# -- sign-in ---------------------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    await limit_per_ip(request, "limit_auth_per_ip")
    cookie = cookie_delivery(request)
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
        return no_store_json(
            200, LoginAnswer(mfa_required=True, mfa_token=token, position=reply.position)
        )
    answer = LoginAnswer(**msgspec.structs.asdict(_tokens(request, reply)))
    return _session_answer(request, 200, answer, cookie=cookie)


async def login_second_factor(request: web.Request) -> web.Response:
    await limit_per_ip(request, "limit_auth_per_ip")
    cookie = cookie_delivery(request)
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
    return _session_answer(request, 200, _tokens(request, reply), cookie=cookie)


async def refresh(request: web.Request) -> web.Response:
    await limit_per_ip(request, "limit_auth_per_ip")
    cookie = cookie_delivery(request)
    body = await read_optional_json(request, RefreshBody, max_bytes=4096)
    token = body.refresh_token
    if token is None:
        token = refresh_cookie(request)
        if token is None:
            raise ValidationError(
                f"send refresh_token, or the {REFRESH_COOKIE} cookie with {CSRF_HEADER}",
                errors=[FieldError("refresh_token", "required without the cookie")],
            )
        # The cookie's token is spent now: its successor must replace it, never reach the
        # page (a browser that sent the cookie gets the cookie, asked or not).
        cookie = True
    reply = await send_as(request, RefreshSession(refresh_token=token))
    return _session_answer(request, 200, _tokens(request, reply), cookie=cookie)


async def logout(request: web.Request) -> web.Response:
    """Ends the session of the access token; without one, that of the browser's refresh
    cookie (a page that lost its access token, say to a reload)."""
    cookie = cookie_delivery(request)
    who = await optional_principal(request)
    if who is not None:
        await send_as(request, EndSession(session_id=who.session_id, reason="logout"), who)
    else:
        token = refresh_cookie(request)
        if token is None:
            raise Unauthenticated(
                "send Authorization: Bearer <access token>, or (a browser) the"
                f" {REFRESH_COOKIE} cookie with {CSRF_HEADER}"
            )
        await send_as(request, LogOut(refresh_token=token))
        cookie = True
    response = web.Response(status=204)
    if cookie:
        clear_session_cookies(response)
    return response


# -- password reset --------------------------------------------------------------------------


async def reset_start(request: web.Request) -> web.Response:
    return await _start(request, "reset")


async def reset_password(request: web.Request) -> web.Response:
    await limit_per_ip(request, "limit_auth_per_ip")
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


# -- signing keys ----------------------------------------------------------------------------


async def jwks(request: web.Request) -> web.Response:
    keys = request.app[TOKENS].ring.jwks(int(time.time()))
    return web.Response(
        body=_encoder.encode(keys),
        content_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


def account_route(method: str, path: str, handler: Handler, summary: str, **kw: Any) -> Route:
    """A route of the `accounts` tag (every identity module's routes share it)."""
    return Route(method, path, handler, summary, tag="accounts", **kw)


#: A verification's states a code or a resend can meet.
_VERIFICATION = (VerificationNotFound, VerificationUsed, VerificationExhausted)
_CODE = (*_VERIFICATION, VerificationExpired, WrongCode)

ROUTES: list[Route] = [
    account_route(
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
    account_route(
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
    account_route(
        "POST",
        "/v1/auth/phone/verify",
        phone_verify,
        "Check the SMS code",
        request=VerifyBody,
        response=RegistrationToken,
        limited=True,
        raises=_CODE,
    ),
    account_route(
        "POST",
        "/v1/auth/register",
        register,
        "Create the account of a verified phone",
        request=RegisterBody,
        response=Tokens,
        status=201,
        limited=True,
        session_cookies="sets",
        raises=(InvalidRegistration, WeakPassword, PhoneTaken, VerificationUsed, WordFilterBlocked),
        # The word filter's rules as of the writes the request names.
        after=True,
    ),
    account_route(
        "POST",
        "/v1/auth/login",
        login,
        "Sign in with phone and password",
        request=LoginBody,
        response=LoginAnswer,
        limited=True,
        session_cookies="sets",
        raises=(InvalidCredentials, LockedOut),
    ),
    account_route(
        "POST",
        "/v1/auth/login/2fa",
        login_second_factor,
        "Finish a sign-in with a TOTP or recovery code",
        request=SecondFactorBody,
        response=Tokens,
        limited=True,
        session_cookies="sets",
        raises=(
            InvalidMfaToken,
            InvalidCredentials,
            InvalidSecondFactor,
            LockedOut,
        ),
    ),
    account_route(
        "POST",
        "/v1/auth/refresh",
        refresh,
        "Exchange a refresh token (rotated on every use)",
        request=RefreshBody,
        optional_body=True,
        response=Tokens,
        limited=True,
        session_cookies="reads",
        raises=(InvalidRefreshToken, RefreshTokenReusedError),
    ),
    account_route(
        "POST",
        "/v1/auth/logout",
        logout,
        "End this session",
        auth="optional",
        status=204,
        raises=(SessionNotFound, InvalidRefreshToken, RefreshTokenReusedError),
        session_cookies="reads",
        while_suspended=True,
    ),
    account_route(
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
    account_route(
        "POST",
        "/v1/auth/password/reset",
        reset_password,
        "Set a new password with the SMS code",
        request=ResetBody,
        status=204,
        limited=True,
        raises=(*_CODE, WeakPassword, InvalidCredentials),
    ),
    account_route("GET", "/.well-known/jwks.json", jwks, "Public keys that sign access tokens"),
]

__all__ = ["ROUTES", "QuarkError"]
