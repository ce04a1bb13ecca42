"""Browser clients' sessions: the access token lives in the page's memory only, the refresh
token in a cookie no script can read (issue 14; `docs/api.md` § Browser clients).

A module of its own because every route that opens, refreshes or ends a session delivers
the same way (`edge.routes.accounts`, `edge.routes.accounts_security`), and the OpenAPI
document declares the same headers and cookies for each of them (`Route.session_cookies`).

- **Asking.** A client sends `Quark-Session: cookie`; the refresh token then goes only into
  `quark_refresh` (`HttpOnly; Secure; SameSite=Strict; Path=/v1/auth`) and the answer's
  `refresh_token` is null (absent in a sign-in's answer). Without the header nothing
  changes (JSON clients). Any other value is 422, checked before a command is sent: a
  refresh rotated and then refused would leave the client holding a spent token.
- **CSRF.** Beside it goes `quark_csrf` (random, `Path=/`, readable by the page). A request
  that the refresh cookie authenticates must repeat it in `Quark-CSRF` (double submit,
  compared in constant time), else 403 `csrf-failed` before anything happens.
  `SameSite=Strict` already keeps the cookie off requests other sites start; the header is
  the second lock (a page of another origin cannot send it without a CORS preflight).
- **Lifetime.** A refresh token holds until its session ends, so both cookies last
  `QUARK_REFRESH_COOKIE_MAX_AGE_SECONDS`, renewed by every refresh.
- **Secure on plain HTTP.** Browsers keep `Secure` cookies from loopback origins
  (`http://127.0.0.1`, `http://localhost`; Chromium checked by
  `tests/e2e/accounts/test_browser_session.py`), so `./dev up` and the tests need no TLS;
  any other origin must be HTTPS.
- **Same origin only.** CORS allows no credentials (`edge.security`) and does not list these
  headers: a page of another origin cannot keep the cookie, so asking for it fails at the
  preflight instead of losing the refresh token into a cookie the browser drops.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from core.errors import FieldError, QuarkError, ValidationError
from edge.context import infra
from handlers.accounts.commands import Token

#: The request header that asks for cookie delivery, and its one value.
SESSION_HEADER = "Quark-Session"
COOKIE_DELIVERY = "cookie"
#: The header that repeats the CSRF cookie.
CSRF_HEADER = "Quark-CSRF"
REFRESH_COOKIE = "quark_refresh"
CSRF_COOKIE = "quark_csrf"
#: Where the refresh cookie is sent: the routes that refresh and end sessions, no other.
REFRESH_PATH = "/v1/auth"
#: The longest refresh token the API accepts (in a body too).
REFRESH_TOKEN_MAX: int = Token.__metadata__[0].max_length


class CsrfFailed(QuarkError):
    code = "csrf-failed"
    status = 403
    title = "The Quark-CSRF header does not match the quark_csrf cookie"


def cookie_delivery(request: web.Request) -> bool:
    """Whether the client asked for its refresh token in a cookie (`Quark-Session: cookie`).

    Raises:
        ValidationError: 422 for any other value of the header.
    """
    asked = request.headers.get(SESSION_HEADER)
    if asked is None:
        return False
    if asked.strip().lower() != COOKIE_DELIVERY:
        raise ValidationError(
            f"{SESSION_HEADER} must be `{COOKIE_DELIVERY}` (or left out for JSON delivery)",
            errors=[FieldError(SESSION_HEADER, f"`{COOKIE_DELIVERY}` or absent")],
        )
    return True


def refresh_cookie(request: web.Request) -> str | None:
    """The refresh token of the `quark_refresh` cookie, or None without one; only when the
    request repeats the CSRF cookie in `Quark-CSRF`.

    Raises:
        CsrfFailed: 403 when the cookie is sent and the header is missing or differs.
        ValidationError: 422 for a cookie longer than any refresh token.
    """
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not sent:
        raise CsrfFailed(f"send the {CSRF_COOKIE} cookie's value in {CSRF_HEADER}")
    # Bytes: compare_digest refuses non-ASCII text, and a header may carry any byte.
    if not expected or not hmac.compare_digest(_bytes(sent), _bytes(expected)):
        raise CsrfFailed(f"{CSRF_HEADER} is not the {CSRF_COOKIE} cookie's value")
    if len(token) > REFRESH_TOKEN_MAX:
        raise ValidationError(
            f"the {REFRESH_COOKIE} cookie is longer than any refresh token",
            errors=[FieldError(REFRESH_COOKIE, f"at most {REFRESH_TOKEN_MAX} characters")],
        )
    return token


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def set_session_cookies(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """`token` into the HttpOnly refresh cookie, beside a fresh CSRF cookie."""
    max_age = infra(request).settings.refresh_cookie_max_age_seconds
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=max_age,
        path=REFRESH_PATH,
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(32),
        max_age=max_age,
        path="/",
        secure=True,
        samesite="Strict",
    )


def clear_session_cookies(response: web.StreamResponse) -> None:
    """Both cookies expired, with the attributes they were set with (a browser replaces a
    cookie only when name, path and domain match)."""
    response.del_cookie(
        REFRESH_COOKIE, path=REFRESH_PATH, secure=True, httponly=True, samesite="Strict"
    )
    response.del_cookie(CSRF_COOKIE, path="/", secure=True, samesite="Strict")
