"""The attacks identity must withstand, through HTTP: guessing codes and passwords, forged
and stolen tokens, phone enumeration, racing sign-ups."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import msgspec
import pytest

from core.settings import Settings
from core.tokens import TokenService
from edge.auth import TOKENS
from handlers.accounts.common import services
from handlers.accounts.events import AccountRegistered, LoginLockedOut, PhoneClaimed
from tests.support.identity import PASSWORD, IdentityClient, new_phone
from tests.support.log import head_position, next_event, stored_messages, stream_head
from tests.support.platform import Platform


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Generous SMS limits: these tests are about codes, passwords and races, not SMS costs.
    return settings.with_(
        limit_sms_per_phone="100/h", limit_sms_per_ip="1000/h", limit_auth_per_ip="1000/min"
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_wrong_codes_spend_the_verification(client: IdentityClient) -> None:
    phone = new_phone()
    status, started, _ = await client.post("/v1/auth/phone/start", {"phone": phone})
    code = await client.sms_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    vid = started["verification_id"]
    for left in (4, 3, 2, 1):
        status, body, _ = await client.post(
            "/v1/auth/phone/verify", {"verification_id": vid, "code": wrong}
        )
        assert status == 400 and body["type"] == "quark:wrong-code"
        assert body["detail"].startswith(f"{left} attempt")
    status, body, _ = await client.post(
        "/v1/auth/phone/verify", {"verification_id": vid, "code": wrong}
    )
    assert status == 410 and body["type"] == "quark:verification-exhausted"
    # Even the right code is refused now: no sixth guess.
    status, body, _ = await client.post(
        "/v1/auth/phone/verify", {"verification_id": vid, "code": code}
    )
    assert status == 410 and body["type"] == "quark:verification-exhausted"


async def test_a_verified_code_cannot_be_used_again(client: IdentityClient) -> None:
    phone = new_phone()
    status, started, _ = await client.post("/v1/auth/phone/start", {"phone": phone})
    code = await client.sms_code(phone)
    body = {"verification_id": started["verification_id"], "code": code}
    status, _, _ = await client.post("/v1/auth/phone/verify", body)
    assert status == 200
    status, again, _ = await client.post("/v1/auth/phone/verify", body)
    assert status == 409 and again["type"] == "quark:verification-used"


async def test_an_unknown_verification_and_a_forged_registration_token(
    client: IdentityClient,
) -> None:
    status, body, _ = await client.post(
        "/v1/auth/phone/verify",
        {"verification_id": "0192f0a0-0000-7000-8000-00000000abcd", "code": "123456"},
    )
    assert status == 404
    token = await client.verified_phone(new_phone())
    payload, mac = token.split(".")
    forged = _b64(_unb64(payload).replace(b'"v":"', b'"v":"0')) + "." + mac
    status, body, _ = await client.register(forged, PASSWORD, "Eve")
    assert status == 400 and body["type"] == "quark:invalid-registration-token"


async def test_forged_tokens_are_refused(client: IdentityClient, platform: Platform) -> None:
    person = await client.sign_up()
    real = person["access_token"]
    header_text, payload_text, _ = real.split(".")
    header = json.loads(_unb64(header_text))
    status, _ = await client.get("/v1/auth/sessions", real)
    assert status == 200

    async def refused(token: str) -> None:
        status, body = await client.get("/v1/auth/sessions", token)
        assert status == 401, body
        assert body["type"] == "quark:invalid-token"

    # alg: none, no signature.
    none = _b64(json.dumps({**header, "alg": "none"}).encode())
    await refused(f"{none}.{payload_text}.")
    # HS256 "signed" with the public key (the classic algorithm confusion).
    status, jwks = await client.get("/.well-known/jwks.json")
    assert status == 200
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    hs = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    for secret in (_unb64(jwk["x"]), jwk["x"].encode()):
        mac = hmac.new(secret, f"{hs}.{payload_text}".encode(), hashlib.sha256).digest()
        await refused(f"{hs}.{payload_text}.{_b64(mac)}")
    # Changed claims under the real signature.
    claims = json.loads(_unb64(payload_text))
    tampered = _b64(json.dumps({**claims, "roles": ["admin"]}).encode())
    await refused(f"{header_text}.{tampered}.{real.split('.')[2]}")
    # Properly signed, but for another audience, or expired.
    assert platform.workers.site_runner is not None
    ring = platform.workers.site_runner.app[TOKENS].ring
    other, _ = TokenService(ring, audience="someone-else").issue(
        claims["sub"], claims["sid"], ["user"], int(time.time())
    )
    await refused(other)
    old, _ = TokenService(ring).issue(
        claims["sub"], claims["sid"], ["user"], int(time.time()) - 3600
    )
    await refused(old)


async def test_login_does_not_tell_whether_a_phone_is_registered(
    client: IdentityClient,
) -> None:
    person = await client.sign_up()
    unknown = new_phone()

    async def attempt(phone: str) -> tuple[int, dict]:
        status, body = await client.log_in(phone, "wrong password 123")
        return status, {k: body[k] for k in ("type", "title", "detail", "status")}

    registered, unregistered = await attempt(person["phone"]), await attempt(unknown)
    assert registered == unregistered
    assert registered[0] == 401 and registered[1]["type"] == "quark:invalid-credentials"
    # Lockouts behave the same too: five failures lock both, with the same answer.
    for _ in range(4):
        assert (await attempt(person["phone"]))[0] == 401
        assert (await attempt(unknown))[0] == 401
    locked_known, locked_unknown = await attempt(person["phone"]), await attempt(unknown)
    assert locked_known == locked_unknown
    assert locked_known[0] == 429 and locked_known[1]["type"] == "quark:locked-out"
    # A password reset answers the same way for both (an SMS only goes to the real one).
    for phone in (person["phone"], unknown):
        status, body, _ = await client.post("/v1/auth/password/reset/start", {"phone": phone})
        assert status == 202 and set(body) == {"verification_id", "expires_in", "resend_after"}
    await client.sms_code(person["phone"], after=1)
    assert client.sms_count(unknown) == 0


async def test_failed_logins_lock_the_account_with_growing_lockouts(
    client: IdentityClient, platform: Platform
) -> None:
    person = await client.sign_up()
    before = await stream_head(platform.infra, "ACCOUNTS")
    for _ in range(5):
        status, _ = await client.log_in(person["phone"], "not the password!")
        assert status == 401
    status, _, headers = await client.post(
        "/v1/auth/login", {"phone": person["phone"], "password": PASSWORD}
    )
    assert status == 429  # the right password does not open a locked account
    assert 55 <= int(headers["Retry-After"]) <= 60
    # The lockout is in the person's security log (written just after the answers: wait
    # for its commit, then read the log at that position).
    locked = await next_event(
        platform.infra,
        "ACCOUNTS",
        f"ev.accounts.account.{person['user_id']}",
        LoginLockedOut,
        after=before,
    )
    status, log = await client.get(
        "/v1/me/security-log", person["access_token"], **{"Quark-After": f"ACCOUNTS:{locked.seq}"}
    )
    assert status == 200
    kinds = [e["kind"] for e in log["items"]]
    assert kinds.count("sign-in-failed") == 5 and "locked-out" in kinds
    # Growing: the next lockout of this phone is twice as long.
    lockouts = platform.infra.lockouts
    policy = services(platform.infra).login_account
    phone_hash = platform.infra.vault.lookup_hash("phone", person["phone"])
    # Let the first lockout run out (its end time is all that keeps it), then fail again.
    key = f"{platform.infra.settings.redis_prefix}lock:{policy.name}:{phone_hash}"
    await platform.infra.redis.hdel(key, "until")
    for _ in range(4):
        await lockouts.failed(policy, phone_hash)
    second = await lockouts.failed(policy, phone_hash)
    assert second.just_locked and 110 <= second.retry_after <= 120


async def test_twenty_parallel_sign_ups_with_one_phone_make_one_account(
    client: IdentityClient, platform: Platform
) -> None:
    phone = new_phone()
    tokens = [await client.verified_phone(phone) for _ in range(20)]
    before = await stream_head(platform.infra, "ACCOUNTS")

    async def register(token: str) -> tuple[int, dict]:
        status, body, _ = await client.register(token, PASSWORD, "Twin")
        return status, body

    results = await asyncio.gather(*(register(t) for t in tokens))
    statuses = sorted(s for s, _ in results)
    assert statuses == [201] + [409] * 19, results
    assert {b["type"] for s, b in results if s == 409} == {"quark:phone-taken"}
    events = await platform.infra.store.read_subject("ACCOUNTS", "ev.accounts.>", before + 1)
    assert sum(isinstance(r.event, AccountRegistered) for r in events) == 1
    assert sum(isinstance(r.event, PhoneClaimed) for r in events) == 1
    winner = next(b for s, b in results if s == 201)
    status, _ = await client.log_in(phone)
    assert status == 200
    status, login = await client.log_in(phone)
    assert login["user_id"] == winner["user_id"]


async def test_bad_input_is_refused_and_changes_nothing(
    client: IdentityClient, platform: Platform
) -> None:
    before = await stream_head(platform.infra, "ACCOUNTS")
    for body, kind in (
        ({"phone": "12345"}, "quark:invalid-phone"),
        ({"phone": "+7 000 000 00 00"}, "quark:invalid-phone"),
        ({"phone": "+79161234567", "extra": 1}, "quark:validation"),
        ({"phone": 79161234567}, "quark:validation"),
        ({}, "quark:validation"),
    ):
        status, problem, headers = await client.post("/v1/auth/phone/start", body)
        assert status == 422 and problem["type"] == kind, (body, problem)
        assert headers["Content-Type"].startswith("application/problem+json")
    assert await stream_head(platform.infra, "ACCOUNTS") == before
    token = await client.verified_phone(new_phone())
    before = await stream_head(platform.infra, "ACCOUNTS")
    for password, reason in (
        ("short", "at least 10"),
        ("1234567890", "most common"),
        ("qwertyuiop", "most common"),
        ("aaaaaaaaaaaaaaa", "different characters"),
    ):
        status, problem, _ = await client.register(token, password, "Bob")
        assert status == 422 and problem["type"] == "quark:weak-password", problem
        assert problem["errors"][0]["field"] == "password" and reason in problem["detail"]
    status, problem, _ = await client.register(token, "x" * 257, "Bob")
    assert status == 422
    assert await stream_head(platform.infra, "ACCOUNTS") == before
    status, problem, _ = await client.post("/v1/auth/refresh", {"refresh_token": "garbage"})
    assert status == 401 and problem["type"] == "quark:invalid-refresh-token"


async def test_the_phone_never_appears_in_clear_in_the_log_or_read_models(
    client: IdentityClient, platform: Platform
) -> None:
    person = await client.sign_up(name="Grace Hopper")
    digits = person["phone"].lstrip("+")
    position = await head_position(platform.infra, "ACCOUNTS")
    await platform.wait("sessions", position)
    await platform.wait("security_log", position)
    status, listed = await client.get("/v1/auth/sessions", person["access_token"])
    assert status == 200 and listed["items"][0]["ip"] == "127.0.0.1"  # opened for its owner
    # (The SMS queue is drained by now; test_identity_limits reads a job while it waits.)
    stored = await stored_messages(platform.infra, "ACCOUNTS")
    assert len(stored) >= 5  # verification, claim, account, session…: all of them searched
    for msg in stored:
        blob = (msg.subject or "") + str(msg.headers) + (msg.data or b"").decode("latin-1")
        assert digits not in blob and "Grace" not in blob, msg.seq
    async with platform.infra.pool.acquire() as conn:
        for schema in ("sessions", "security_log"):
            rows = await conn.fetch(
                f"SELECT * FROM {schema}.{'sessions' if schema == 'sessions' else 'entries'}"
            )
            dump = msgspec.json.encode([dict(r) for r in rows], enc_hook=str).decode()
            assert rows and digits not in dump and "Grace" not in dump
            assert "127.0.0.1" not in dump
