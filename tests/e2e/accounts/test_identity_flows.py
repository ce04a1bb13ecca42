"""Identity as a client sees it, through HTTP only: sign-up by SMS, sign-in, second factor,
refresh-token rotation, sessions, password change and reset."""

from __future__ import annotations

import time

import pyotp

from tests.support.identity import PASSWORD, IdentityClient, new_phone
from tests.support.log import head_position
from tests.support.platform import Platform


async def test_the_whole_journey_of_one_person(client: IdentityClient, platform: Platform) -> None:
    # Sign up: code by SMS, verify, register.
    phone = new_phone()
    status, started, _ = await client.post("/v1/auth/phone/start", {"phone": "+7 916 " + phone[5:]})
    assert status == 202
    assert started["expires_in"] == 300 and started["resend_after"] == 60
    code = await client.sms_code(phone)  # normalised to E.164 before sending
    status, verified, _ = await client.post(
        "/v1/auth/phone/verify", {"verification_id": started["verification_id"], "code": code}
    )
    assert status == 200
    status, tokens, headers = await client.register(verified["registration_token"], PASSWORD, "Ada")
    assert status == 201, tokens
    assert headers["Quark-Position"].startswith("ACCOUNTS:")
    assert headers["Cache-Control"] == "no-store"
    assert set(tokens) >= {"user_id", "access_token", "refresh_token", "expires_in"}
    assert tokens["expires_in"] == 900 and tokens["token_type"] == "Bearer"
    user = tokens["user_id"]
    signup_session = tokens["session_id"]

    # The access token works; the same registration token does not make a second account.
    status, _ = await client.get("/v1/auth/sessions", tokens["access_token"])
    assert status == 200
    status, again, _ = await client.register(verified["registration_token"], PASSWORD, "Ada")
    assert status == 409, again

    # Log in with the password.
    status, login = await client.log_in(phone)
    assert status == 200 and login["user_id"] == user and not login.get("mfa_required")

    # Enable TOTP.
    access = login["access_token"]
    status, setup, _ = await client.post("/v1/auth/2fa/setup", token=access)
    assert status == 200
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    assert setup["qr_svg"].lstrip().startswith("<svg")
    totp = pyotp.TOTP(setup["secret"])
    status, enabled, _ = await client.post("/v1/auth/2fa/enable", {"code": totp.now()}, access)
    assert status == 200 and len(enabled["recovery_codes"]) == 10
    assert len(set(enabled["recovery_codes"])) == 10

    # Log in with the second factor; the code of the next step (the current one was spent).
    status, first = await client.log_in(phone)
    assert status == 200 and first == {
        "mfa_required": True,
        "mfa_token": first["mfa_token"],
        "position": first["position"],
    }
    assert first["position"].startswith("ACCOUNTS:")
    next_code = totp.at(time.time() + 30)
    status, with_2fa, _ = await client.post(
        "/v1/auth/login/2fa", {"mfa_token": first["mfa_token"], "code": next_code}
    )
    assert status == 200, with_2fa
    # The same code again: refused (no replay within its window).
    status, second = await client.log_in(phone)
    status, replay, _ = await client.post(
        "/v1/auth/login/2fa", {"mfa_token": second["mfa_token"], "code": next_code}
    )
    assert status == 401 and replay["type"] == "quark:invalid-code"
    # A recovery code works once.
    recovery = enabled["recovery_codes"][0]
    status, by_recovery, _ = await client.post(
        "/v1/auth/login/2fa", {"mfa_token": second["mfa_token"], "code": recovery}
    )
    assert status == 200
    status, _, _ = await client.post(
        "/v1/auth/login/2fa", {"mfa_token": second["mfa_token"], "code": recovery}
    )
    assert status == 401

    # Refresh: rotated on every use.
    status, refreshed, _ = await client.post(
        "/v1/auth/refresh", {"refresh_token": with_2fa["refresh_token"]}
    )
    assert status == 200 and refreshed["refresh_token"] != with_2fa["refresh_token"]
    assert refreshed["session_id"] == with_2fa["session_id"]
    status, _ = await client.get("/v1/auth/sessions", refreshed["access_token"])
    assert status == 200

    # Reusing the old refresh token ends the whole session: the new tokens stop working too.
    status, reused, _ = await client.post(
        "/v1/auth/refresh", {"refresh_token": with_2fa["refresh_token"]}
    )
    assert status == 401 and reused["type"] == "quark:refresh-token-reused"
    status, gone = await client.get("/v1/auth/sessions", refreshed["access_token"])
    assert status == 401, gone
    status, _, _ = await client.post(
        "/v1/auth/refresh", {"refresh_token": refreshed["refresh_token"]}
    )
    assert status == 401

    # Session list, and ending one session from another.
    me = by_recovery["access_token"]
    status, listed = await client.get(
        "/v1/auth/sessions", me, **{"Quark-After": await head_position(platform.infra, "ACCOUNTS")}
    )
    assert status == 200
    ids = {s["id"] for s in listed["items"]}
    assert by_recovery["session_id"] in ids and with_2fa["session_id"] not in ids
    assert [s["current"] for s in listed["items"] if s["id"] == by_recovery["session_id"]] == [True]
    assert {s["device"] for s in listed["items"]} == {"Python"}  # aiohttp's User-Agent
    assert all(s["ip"] == "127.0.0.1" for s in listed["items"])
    status, _, _ = await client.post("/v1/auth/logout", token=login["access_token"])
    assert status == 204
    status, _ = await client.get("/v1/auth/sessions", login["access_token"])
    assert status == 401  # at once, not at expiry
    async with client.http.delete(
        f"/v1/auth/sessions/{signup_session}", headers={"Authorization": f"Bearer {me}"}
    ) as resp:
        assert resp.status == 204
    status, _ = await client.get("/v1/auth/sessions", tokens["access_token"])
    assert status == 401

    # Password change: needs the old one, ends every other session.
    status, other = await _login_2fa(client, phone, PASSWORD, enabled["recovery_codes"][1])
    assert status == 200
    status, wrong, _ = await client.post(
        "/v1/auth/password", {"old_password": "not it at all", "new_password": "x" * 12}, me
    )
    assert status == 403 and wrong["type"] == "quark:wrong-password"
    new_password = "a much better passphrase"
    status, _, _ = await client.post(
        "/v1/auth/password", {"old_password": PASSWORD, "new_password": new_password}, me
    )
    assert status == 204
    status, _ = await client.get("/v1/auth/sessions", other["access_token"])
    assert status == 401
    status, _ = await client.get("/v1/auth/sessions", me)
    assert status == 200
    status, _ = await client.log_in(phone, PASSWORD)
    assert status == 401

    # Reset by SMS: ends every session, the new password works.
    status, reset, _ = await client.post("/v1/auth/password/reset/start", {"phone": phone})
    assert status == 202
    code = await client.sms_code(phone, after=1)
    final_password = "reset by a text message"
    status, _, _ = await client.post(
        "/v1/auth/password/reset",
        {"verification_id": reset["verification_id"], "code": code, "new_password": final_password},
    )
    assert status == 204
    status, _ = await client.get("/v1/auth/sessions", me)
    assert status == 401
    status, body = await client.log_in(phone, final_password)
    assert status == 200 and body["mfa_required"]

    # Disable 2FA with a recovery code; then a plain password login gives tokens.
    status, last = await _login_2fa(client, phone, final_password, enabled["recovery_codes"][2])
    assert status == 200
    status, _, _ = await client.post(
        "/v1/auth/2fa/disable", {"code": enabled["recovery_codes"][3]}, last["access_token"]
    )
    assert status == 204
    status, plain = await client.log_in(phone, final_password)
    assert status == 200 and plain["access_token"]

    # The security log tells the story, newest first.
    status, log = await client.get(
        "/v1/me/security-log",
        plain["access_token"],
        **{"Quark-After": await head_position(platform.infra, "ACCOUNTS")},
    )
    assert status == 200
    kinds = [e["kind"] for e in log["items"]]
    for kind in (
        "signed-up",
        "signed-in",
        "two-factor-enabled",
        "refresh-token-reused",
        "session-ended",
        "password-changed",
        "two-factor-disabled",
    ):
        assert kind in kinds, (kind, kinds)
    assert kinds[0] == "signed-in" and kinds[-1] in ("signed-up", "signed-up-session")
    reasons = {e["detail"].get("reason") for e in log["items"] if e["kind"] == "session-ended"}
    assert {"refresh-reuse", "logout", "revoked", "password-changed", "password-reset"} <= reasons


async def _login_2fa(
    client: IdentityClient, phone: str, password: str, recovery: str
) -> tuple[int, dict]:
    status, first = await client.log_in(phone, password)
    assert status == 200 and first["mfa_required"], first
    status, body, _ = await client.post(
        "/v1/auth/login/2fa", {"mfa_token": first["mfa_token"], "code": recovery}
    )
    return status, body


async def test_the_sms_code_can_be_resent_only_after_a_minute(client: IdentityClient) -> None:
    phone = new_phone()
    status, started, _ = await client.post("/v1/auth/phone/start", {"phone": phone})
    assert status == 202
    await client.sms_code(phone)
    status, early, headers = await client.post(
        "/v1/auth/phone/resend", {"verification_id": started["verification_id"]}
    )
    assert status == 429 and early["type"] == "quark:resend-too-soon"
    assert 50 <= int(headers["Retry-After"]) <= 60
    assert client.sms_count(phone) == 1
