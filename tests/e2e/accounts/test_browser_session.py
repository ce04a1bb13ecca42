"""Browser clients' sessions (`edge.session_cookies`): asked with `Quark-Session: cookie`, the
refresh token travels only in an HttpOnly cookie on `/v1/auth`, never in a body a script
reads; refreshing and signing out with that cookie need the CSRF cookie's value repeated in
`Quark-CSRF`. JSON clients see nothing of it. The last test runs the page's side in real
Chromium, over plain HTTP on 127.0.0.1 as `./dev up` serves it."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pyotp
import pytest

from core.settings import Settings
from tests.support.browser import chromium
from tests.support.identity import PASSWORD, IdentityClient, new_phone
from tests.support.platform import Platform

BROWSER = {"Quark-Session": "cookie"}
#: What `document.cookie` shows once the session cookies are set: the CSRF cookie alone.
CSRF_ONLY = re.compile(r"quark_csrf=[A-Za-z0-9_-]{43}")


@dataclass
class Answer:
    status: int
    body: Any
    #: Each `Set-Cookie` by cookie name: (value, attributes with lower-case names).
    cookies: dict[str, tuple[str, dict[str, str | bool]]] = field(default_factory=dict)
    position: str | None = None

    def cookie(self, name: str) -> str:
        return self.cookies[name][0]


@dataclass
class Jar:
    """A browser's two session cookies, sent by hand (no client cookie jar decides)."""

    refresh: str
    csrf: str

    @classmethod
    def of(cls, answer: Answer) -> Jar:
        return cls(answer.cookie("quark_refresh"), answer.cookie("quark_csrf"))

    def header(self) -> dict[str, str]:
        return {"Cookie": f"quark_refresh={self.refresh}; quark_csrf={self.csrf}"}


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str | bool]]:
    pair, *attributes = header.split("; ")
    name, _, value = pair.partition("=")
    attrs: dict[str, str | bool] = {}
    for attribute in attributes:
        key, sep, val = attribute.partition("=")
        attrs[key.lower()] = val if sep else True
    return name, value, attrs


@pytest.fixture
async def raw(platform: Platform) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session that keeps no cookies: every test says which it sends."""
    async with aiohttp.ClientSession(
        base_url=platform.base_url, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        yield http


async def send(
    http: aiohttp.ClientSession,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    method: str = "POST",
    token: str | None = None,
    **headers: str,
) -> Answer:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with http.request(method, path, json=body, headers=headers) as resp:
        data = await resp.json(content_type=None) if resp.status != 204 else None
        cookies = {}
        for header in resp.headers.getall("Set-Cookie", []):
            name, value, attrs = parse_set_cookie(header)
            cookies[name] = (value, attrs)
        return Answer(resp.status, data, cookies, resp.headers.get("Quark-Position"))


async def browser_sign_in(http: aiohttp.ClientSession, person: dict[str, Any]) -> Answer:
    answer = await send(
        http,
        "/v1/auth/login",
        {"phone": person["phone"], "password": person["password"]},
        **BROWSER,
    )
    assert answer.status == 200, answer.body
    return answer


async def refresh_with(http: aiohttp.ClientSession, jar: Jar, csrf: str | None = None) -> Answer:
    """A refresh by cookie with no body, repeating `csrf` (the jar's own by default)."""
    extra = {"Quark-CSRF": jar.csrf if csrf is None else csrf} if csrf != "" else {}
    return await send(http, "/v1/auth/refresh", **BROWSER, **jar.header(), **extra)


def assert_session_cookies(answer: Answer, max_age: int) -> None:
    """Exactly the attributes of issue 14, and nothing else (no Domain, no Expires)."""
    assert set(answer.cookies) == {"quark_refresh", "quark_csrf"}
    _, refresh = answer.cookies["quark_refresh"]
    assert refresh == {
        "httponly": True,
        "secure": True,
        "samesite": "Strict",
        "path": "/v1/auth",
        "max-age": str(max_age),
    }
    csrf, attributes = answer.cookies["quark_csrf"]
    assert attributes == {
        "secure": True,
        "samesite": "Strict",
        "path": "/",
        "max-age": str(max_age),
    }
    assert len(base64.urlsafe_b64decode(csrf + "=")) == 32


def assert_cleared(answer: Answer) -> None:
    assert set(answer.cookies) == {"quark_refresh", "quark_csrf"}
    for name, path in (("quark_refresh", "/v1/auth"), ("quark_csrf", "/")):
        value, attributes = answer.cookies[name]
        # aiohttp writes the empty value as `""`; Max-Age=0 removes the cookie whatever it is.
        assert value in ("", '""') and attributes["max-age"] == "0" and attributes["path"] == path
        assert attributes["secure"] is True and attributes["samesite"] == "Strict"
    assert answer.cookies["quark_refresh"][1]["httponly"] is True
    assert "httponly" not in answer.cookies["quark_csrf"][1]


async def test_a_browser_sign_in_puts_the_refresh_token_only_in_an_http_only_cookie(
    client: IdentityClient, raw: aiohttp.ClientSession, settings: Settings
) -> None:
    person = await client.sign_up()
    answer = await browser_sign_in(raw, person)
    assert "refresh_token" not in answer.body
    assert answer.body["access_token"] and answer.body["session_id"]
    assert_session_cookies(answer, settings.refresh_cookie_max_age_seconds)
    assert answer.cookie("quark_refresh").startswith(f"{person['user_id']}.")
    status, _ = await client.get("/v1/auth/sessions", answer.body["access_token"])
    assert status == 200


async def test_sign_up_and_a_second_factor_sign_in_hand_the_cookie_to_a_browser_too(
    client: IdentityClient, raw: aiohttp.ClientSession, settings: Settings
) -> None:
    registration = await client.verified_phone(phone := new_phone())
    body = {"registration_token": registration, "password": PASSWORD}
    signed_up = await send(raw, "/v1/auth/register", {**body, "display_name": "Ada"}, **BROWSER)
    assert signed_up.status == 201, signed_up.body
    assert signed_up.body["refresh_token"] is None
    assert_session_cookies(signed_up, settings.refresh_cookie_max_age_seconds)

    access = signed_up.body["access_token"]
    status, setup, _ = await client.post("/v1/auth/2fa/setup", token=access)
    assert status == 200
    totp = pyotp.TOTP(setup["secret"])
    status, _, _ = await client.post("/v1/auth/2fa/enable", {"code": totp.now()}, access)
    assert status == 200
    first = await browser_sign_in(raw, {"phone": phone, "password": body["password"]})
    assert first.body["mfa_required"] is True and first.cookies == {}
    second = await send(
        raw,
        "/v1/auth/login/2fa",
        {"mfa_token": first.body["mfa_token"], "code": totp.at(time.time() + 30)},
        **BROWSER,
    )
    assert second.status == 200, second.body
    assert second.body["refresh_token"] is None
    assert_session_cookies(second, settings.refresh_cookie_max_age_seconds)
    assert (await refresh_with(raw, Jar.of(second))).status == 200


async def test_a_refresh_with_the_cookie_and_its_csrf_header_rotates_both_cookies(
    client: IdentityClient, raw: aiohttp.ClientSession, settings: Settings
) -> None:
    signed_in = await browser_sign_in(raw, await client.sign_up())
    jar = Jar.of(signed_in)
    refreshed = await refresh_with(raw, jar)
    assert refreshed.status == 200, refreshed.body
    assert refreshed.body["refresh_token"] is None
    assert refreshed.body["session_id"] == signed_in.body["session_id"]
    assert_session_cookies(refreshed, settings.refresh_cookie_max_age_seconds)
    rotated = Jar.of(refreshed)
    assert rotated.refresh != jar.refresh and rotated.csrf != jar.csrf
    status, _ = await client.get("/v1/auth/sessions", refreshed.body["access_token"])
    assert status == 200
    # An empty JSON object is no body either; and a browser that sent the cookie gets its
    # successor as a cookie even when it did not ask (the page must never see it).
    again = await send(
        raw, "/v1/auth/refresh", {}, **rotated.header(), **{"Quark-CSRF": rotated.csrf}
    )
    assert again.status == 200, again.body
    assert again.body["refresh_token"] is None and Jar.of(again).refresh != rotated.refresh


async def test_a_refresh_without_the_csrf_header_or_with_a_wrong_one_changes_nothing(
    client: IdentityClient, raw: aiohttp.ClientSession
) -> None:
    jar = Jar.of(await browser_sign_in(raw, await client.sign_up()))
    for csrf in ("", "not-the-cookie", jar.csrf[:-1], jar.csrf + "x"):
        refused = await refresh_with(raw, jar, csrf)
        assert refused.status == 403, csrf
        assert refused.body["type"] == "quark:csrf-failed" and refused.cookies == {}
    # The header matches, but the CSRF cookie is not sent: nothing to match it against.
    alone = await send(
        raw,
        "/v1/auth/refresh",
        **BROWSER,
        **{"Cookie": f"quark_refresh={jar.refresh}", "Quark-CSRF": jar.csrf},
    )
    assert alone.status == 403 and alone.body["type"] == "quark:csrf-failed"
    # Nothing rotated: the cookie still works.
    assert (await refresh_with(raw, jar)).status == 200


async def test_an_old_cookie_presented_again_ends_the_session_like_a_reused_refresh_token(
    client: IdentityClient, raw: aiohttp.ClientSession
) -> None:
    old = Jar.of(await browser_sign_in(raw, await client.sign_up()))
    refreshed = await refresh_with(raw, old)
    assert refreshed.status == 200
    reused = await refresh_with(raw, old)
    assert reused.status == 401 and reused.body["type"] == "quark:refresh-token-reused"
    assert reused.cookies == {}
    status, _ = await client.get("/v1/auth/sessions", refreshed.body["access_token"])
    assert status == 401
    after = await refresh_with(raw, Jar.of(refreshed))
    assert after.status == 401 and after.body["type"] == "quark:invalid-refresh-token"


async def test_signing_out_clears_both_cookies(
    client: IdentityClient, raw: aiohttp.ClientSession
) -> None:
    person = await client.sign_up()
    # With the access token: it names the session, the cookies go.
    signed_in = await browser_sign_in(raw, person)
    out = await send(raw, "/v1/auth/logout", token=signed_in.body["access_token"], **BROWSER)
    assert out.status == 204
    assert_cleared(out)
    ended = await refresh_with(raw, Jar.of(signed_in))
    assert ended.status == 401 and ended.body["type"] == "quark:invalid-refresh-token"

    # With the cookie alone (a page that lost its access token): the CSRF header is needed.
    signed_in = await browser_sign_in(raw, person)
    jar = Jar.of(signed_in)
    forged = await send(raw, "/v1/auth/logout", **BROWSER, **jar.header())
    assert forged.status == 403 and forged.body["type"] == "quark:csrf-failed"
    assert forged.cookies == {}
    status, _ = await client.get("/v1/auth/sessions", signed_in.body["access_token"])
    assert status == 200
    out = await send(raw, "/v1/auth/logout", **BROWSER, **jar.header(), **{"Quark-CSRF": jar.csrf})
    assert out.status == 204 and (out.position or "").startswith("ACCOUNTS:")
    assert_cleared(out)
    status, _ = await client.get("/v1/auth/sessions", signed_in.body["access_token"])
    assert status == 401
    nobody = await send(raw, "/v1/auth/logout", **BROWSER)
    assert nobody.status == 401 and nobody.body["type"] == "quark:unauthenticated"

    # Ending one's own session from the list clears them too; ending another does not.
    this, other = await browser_sign_in(raw, person), await browser_sign_in(raw, person)
    token = this.body["access_token"]
    path = "/v1/auth/sessions/{}"
    kept = await send(raw, path.format(other.body["session_id"]), method="DELETE", token=token)
    assert kept.status == 204 and kept.cookies == {}
    own = path.format(this.body["session_id"])
    ended_own = await send(raw, own, method="DELETE", token=token, **BROWSER)
    assert ended_own.status == 204
    assert_cleared(ended_own)


async def test_json_clients_are_unchanged(
    client: IdentityClient, raw: aiohttp.ClientSession
) -> None:
    person = await client.sign_up()
    assert person["refresh_token"]
    login = await send(
        raw, "/v1/auth/login", {"phone": person["phone"], "password": person["password"]}
    )
    assert login.status == 200 and login.body["refresh_token"] and login.cookies == {}
    refreshed = await send(raw, "/v1/auth/refresh", {"refresh_token": login.body["refresh_token"]})
    assert refreshed.status == 200 and refreshed.body["refresh_token"] and refreshed.cookies == {}
    # Another value of the header is refused before anything is spent.
    token = refreshed.body["refresh_token"]
    odd = await send(raw, "/v1/auth/refresh", {"refresh_token": token}, **{"Quark-Session": "json"})
    assert odd.status == 422 and odd.body["errors"][0]["field"] == "Quark-Session"
    unknown = await send(raw, "/v1/auth/refresh", {})
    assert unknown.status == 422 and unknown.body["errors"][0]["field"] == "refresh_token"
    again = await send(raw, "/v1/auth/refresh", {"refresh_token": token})
    assert again.status == 200 and again.cookies == {}
    out = await send(raw, "/v1/auth/logout", token=again.body["access_token"])
    assert out.status == 204 and out.cookies == {}


SIGN_IN = """async ([phone, password]) => {
    const answer = await fetch("/v1/auth/login", {
        method: "POST",
        headers: {"Content-Type": "application/json", "Quark-Session": "cookie"},
        body: JSON.stringify({phone, password}),
    });
    return {status: answer.status, body: await answer.json()};
}"""

#: What the web app's API client does after a reload: no token in memory, only the cookies.
REFRESH = """async (withCsrf) => {
    const csrf = document.cookie.split("; ").find(c => c.startsWith("quark_csrf="));
    const headers = {"Quark-Session": "cookie"};
    if (withCsrf) headers["Quark-CSRF"] = csrf.slice("quark_csrf=".length);
    const answer = await fetch("/v1/auth/refresh", {method: "POST", headers});
    return {status: answer.status, body: await answer.json()};
}"""


async def test_in_chromium_the_page_never_reads_the_refresh_token_yet_refreshes_after_a_reload(
    client: IdentityClient, platform: Platform
) -> None:
    person = await client.sign_up()
    # The edge's own origin, over plain HTTP on 127.0.0.1: Chromium keeps `Secure` cookies
    # from a loopback origin (and so the edge of `./dev up` needs no TLS).
    assert platform.base_url.startswith("http://127.0.0.1:")
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{platform.base_url}/docs")
        signed_in = await page.evaluate(SIGN_IN, [person["phone"], person["password"]])
        assert signed_in["status"] == 200, signed_in
        assert "refresh_token" not in signed_in["body"]
        kept = {c["name"]: c for c in await context.cookies()}
        assert kept["quark_refresh"]["httpOnly"] is True
        assert kept["quark_refresh"]["secure"] is True
        assert kept["quark_refresh"]["sameSite"] == "Strict"
        assert kept["quark_refresh"]["path"] == "/v1/auth"
        assert kept["quark_csrf"]["httpOnly"] is False

        await page.reload()
        assert CSRF_ONLY.fullmatch(await page.evaluate("document.cookie"))
        refused = await page.evaluate(REFRESH, False)
        assert refused["status"] == 403 and refused["body"]["type"] == "quark:csrf-failed"
        refreshed = await page.evaluate(REFRESH, True)
        assert refreshed["status"] == 200, refreshed
        assert refreshed["body"]["refresh_token"] is None
        assert refreshed["body"]["session_id"] == signed_in["body"]["session_id"]
        rotated = {c["name"]: c["value"] for c in await context.cookies()}
        assert rotated["quark_refresh"] != kept["quark_refresh"]["value"]
        status, _ = await client.get("/v1/auth/sessions", refreshed["body"]["access_token"])
        assert status == 200

        # Even a page inside the cookie's path cannot read it: HttpOnly, not the path, hides it.
        await page.goto(f"{platform.base_url}/v1/auth/sessions")
        assert CSRF_ONLY.fullmatch(await page.evaluate("document.cookie"))
