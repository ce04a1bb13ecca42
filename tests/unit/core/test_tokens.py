"""Access tokens without a server: a ring built from in-memory keys. Every rejection has its
own test, with a token that would pass if that one check were missing (the detail names the
check that refused it).

PyJWT checks `exp` and `iat` against the wall clock, so tokens are minted around `now`, the
wall clock read by each test (not once at import: a whole suite can run longer than a token
lives). Tests that move time on pass a later `now`, which the per-call checks use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import msgspec
import pytest

from core.access_claims import ACCESS_TTL, AUDIENCE, CLOCK_SKEW, ISSUER, AccessClaims
from core.errors import UnauthorizedError
from core.ids import new_id
from core.signing_keys import KeyRing, NoSigningKey, SigningKey
from core.tokens import MAX_TOKEN_BYTES, InvalidToken, TokenService, sign


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims(now: int, **changes: Any | Callable[[Any], Any]) -> dict[str, Any]:
    """The claims `issue` writes at `now`, with `changes`: a value, a function of the issued
    value (`exp=str`), or `...` to leave the claim out."""
    base: dict[str, Any] = {
        "sub": new_id(),
        "sid": new_id(),
        "roles": ["user"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ACCESS_TTL,
        "jti": "j1",
    }
    for name, change in changes.items():
        base[name] = change(base[name]) if callable(change) else change
    return {k: v for k, v in base.items() if v is not ...}


def forge(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    """A token signed with a real ring key by hand, so only the claim or header under test
    is wrong."""
    head = {"alg": "EdDSA", "typ": "JWT", "kid": key.kid, **header}
    signing_input = f"{segment(head)}.{segment(payload)}"
    return f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"


def header_of(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


class CountingRing(KeyRing):
    """An in-memory ring that notes when (by its clock) it would have reloaded the bucket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reloads: list[float] = []

    async def refresh(self) -> None:
        self.reloads.append(self._clock())


@pytest.fixture
def now() -> int:
    return int(time.time())


@pytest.fixture
def key(now: int) -> SigningKey:
    return SigningKey.generate(now - 60, kid="k1")


@pytest.fixture
def service(key: SigningKey) -> TokenService:
    return TokenService(KeyRing.in_memory([key]))


async def rejected(service: TokenService, token: str, reason: str, now: int) -> None:
    with pytest.raises(InvalidToken, match=reason) as caught:
        await service.verify(token, now)
    assert caught.value.status == 401 and caught.value.code == "invalid-token"


# -- the happy path ----------------------------------------------------------------------------


async def test_an_issued_token_verifies_to_its_claims(service: TokenService, now: int) -> None:
    user, session = new_id(), new_id()
    token, expires_in = service.issue(user, session, ["user", "mod"], now)
    assert expires_in == ACCESS_TTL
    assert header_of(token) == {"alg": "EdDSA", "typ": "JWT", "kid": "k1"}
    assert "=" not in token
    got = await service.verify(token, now + 10)
    assert (got.sub, got.sid, got.roles) == (user, session, ("user", "mod"))
    assert (got.iss, got.aud, got.iat, got.exp) == (ISSUER, AUDIENCE, now, now + ACCESS_TTL)
    assert len(got.jti) >= 16


async def test_an_issued_token_verifies_with_a_stock_jwt_client_and_the_published_jwks(
    service: TokenService, now: int
) -> None:
    user = new_id()
    token, _ = service.issue(user, new_id(), ["user"], now)
    [published] = service.ring.jwks(now)["keys"]
    payload = jwt.decode(
        token, jwt.PyJWK(published), algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER
    )
    assert payload["sub"] == user


async def test_a_suspended_accounts_token_says_restricted_and_until_when(
    service: TokenService, now: int
) -> None:
    token, _ = service.issue(new_id(), new_id(), ["user"], now, restricted=True)
    got = await service.verify(token, now)
    assert (got.restricted, got.suspended_until) == (True, None)  # indefinitely
    token, _ = service.issue(
        new_id(), new_id(), ["user"], now, restricted=True, suspended_until=now + 60
    )
    got = await service.verify(token, now)
    assert (got.restricted, got.suspended_until) == (True, now + 60)
    # Other tokens carry neither claim, and an end means nothing without `restricted`.
    token, _ = service.issue(new_id(), new_id(), ["user"], now, suspended_until=now + 60)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert "restricted" not in payload and "suspended_until" not in payload


def test_every_token_gets_its_own_jti(service: TokenService, now: int) -> None:
    user, session = new_id(), new_id()
    first, _ = service.issue(user, session, [], now)
    second, _ = service.issue(user, session, [], now)
    assert first != second


async def test_an_audience_list_containing_ours_is_accepted(
    service: TokenService, key: SigningKey, now: int
) -> None:
    token = forge(key, claims(now, aud=["other-api", AUDIENCE]))
    assert (await service.verify(token, now)).aud == ("other-api", AUDIENCE)


async def test_a_token_is_accepted_within_the_clock_skew_after_exp(
    service: TokenService, now: int
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    await service.verify(token, now + ACCESS_TTL + CLOCK_SKEW - 1)


def test_issuing_with_an_empty_ring_is_a_clear_error(now: int) -> None:
    with pytest.raises(NoSigningKey):
        TokenService(KeyRing.in_memory([])).issue(new_id(), new_id(), [], now)


def test_issuing_for_something_that_is_not_an_id_is_refused(
    service: TokenService, now: int
) -> None:
    with pytest.raises(ValueError, match="ids"):
        service.issue("alice.>", new_id(), [], now)


def test_invalid_token_is_an_unauthorized_error() -> None:
    assert issubclass(InvalidToken, UnauthorizedError)
    assert InvalidToken.title == "The access token is not valid"


# -- malformed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["", "abc", "a.b", "a.b.c.d", "....", "a..b.c"])
async def test_a_token_without_three_segments_is_rejected(
    service: TokenService, now: int, shape: str
) -> None:
    await rejected(service, shape, "malformed", now)


async def test_a_fourth_segment_after_a_valid_token_is_rejected(
    service: TokenService, now: int
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    await rejected(service, token + ".x", "three segments", now)


async def test_base64_padding_is_rejected_although_pyjwt_would_accept_it(
    service: TokenService, now: int
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    head, body, sig = token.split(".")
    padded = f"{head}.{body}.{sig}=="  # a 64-byte signature is 86 chars; padding makes 88
    assert jwt.get_unverified_header(padded) == header_of(token)  # PyJWT reads it fine
    await rejected(service, padded, "padding", now)


async def test_a_signature_spelled_with_other_unused_bits_is_rejected(
    service: TokenService, now: int
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    head, body, sig = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 86 characters carry 516 bits for 512: the last character's low 4 bits are unused.
    twin = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 0b0001]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(sig + "==")
    await rejected(service, f"{head}.{body}.{twin}", "malformed", now)


@pytest.mark.parametrize("bad", ["!!!!", "a b", "é", "abcde", "a=b", "AAA+", "AAA/"])
async def test_a_header_that_is_not_base64url_is_rejected(
    service: TokenService, now: int, bad: str
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    _, body, sig = token.split(".")
    await rejected(service, f"{bad}.{body}.{sig}", "malformed", now)


@pytest.mark.parametrize("header", [b"not json", b"[1,2]", b'"EdDSA"', b"{"])
async def test_a_header_that_is_not_a_json_object_is_rejected(
    service: TokenService, now: int, header: bytes
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    _, body, sig = token.split(".")
    await rejected(service, f"{b64(header)}.{body}.{sig}", "malformed", now)


async def test_a_payload_that_is_not_json_is_rejected(
    service: TokenService, key: SigningKey, now: int
) -> None:
    head = segment({"alg": "EdDSA", "typ": "JWT", "kid": key.kid})
    signing_input = f"{head}.{b64(b'not json')}"
    token = f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"
    await rejected(service, token, "malformed token: Invalid payload string", now)


async def test_an_oversized_token_is_rejected_even_when_correctly_signed(
    service: TokenService, key: SigningKey, now: int
) -> None:
    token = forge(key, claims(now, roles=["r" * 50] * 80))
    assert len(token) > MAX_TOKEN_BYTES
    await rejected(service, token, "too long", now)


@pytest.mark.parametrize(
    "member",
    [
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(bytes(32))}},
        {"jku": "https://attacker.invalid/jwks.json"},
        {"x5u": "https://attacker.invalid/cert.pem"},
        {"crit": ["exp"], "exp": 1},
        {"b64": False, "crit": ["b64"]},
    ],
)
async def test_a_header_member_we_never_issue_is_rejected(
    service: TokenService, key: SigningKey, now: int, member: dict[str, Any]
) -> None:
    # `jwk`, `jku` and `x5u` would bring their own key; PyJWT ignores them, we refuse them.
    await rejected(service, forge(key, claims(now), **member), "malformed", now)


async def test_a_header_without_kid_is_rejected(
    service: TokenService, key: SigningKey, now: int
) -> None:
    head = segment({"alg": "EdDSA", "typ": "JWT"})
    signing_input = f"{head}.{segment(claims(now))}"
    token = f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"
    await rejected(service, token, "malformed", now)


async def test_a_typ_other_than_jwt_is_rejected(
    service: TokenService, key: SigningKey, now: int
) -> None:
    await rejected(service, forge(key, claims(now), typ="at+jwt+other"), "not a JWT", now)


# -- algorithm confusion -----------------------------------------------------------------------


async def test_alg_none_without_signature_is_rejected(
    service: TokenService, key: SigningKey, now: int
) -> None:
    token = f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims(now))}."
    await rejected(service, token, "algorithm", now)


@pytest.mark.parametrize("alg", ["none", "None", "ES256", "HS256", "eddsa", "EdDSA ", "Ed25519"])
async def test_any_alg_but_eddsa_is_rejected_even_with_a_valid_signature(
    service: TokenService, key: SigningKey, now: int, alg: str
) -> None:
    await rejected(service, forge(key, claims(now), alg=alg), "algorithm", now)


async def test_a_wrong_alg_is_refused_before_any_key_is_looked_up(
    key: SigningKey, now: int
) -> None:
    ring = CountingRing.in_memory([key])
    stranger = SigningKey.generate(now, kid="made-up")
    # An unknown kid would make the ring reload; the algorithm is refused before that.
    await rejected(TokenService(ring), forge(stranger, claims(now), alg="HS256"), "algorithm", now)
    assert ring.reloads == []


@pytest.mark.parametrize("secret_form", ["raw", "jwks_x"])
async def test_hs256_keyed_with_the_public_key_is_rejected(
    service: TokenService, key: SigningKey, now: int, secret_form: str
) -> None:
    public = key.public_key.public_bytes_raw()
    secret = public if secret_form == "raw" else service.ring.jwks(now)["keys"][0]["x"].encode()
    head = segment({"alg": "HS256", "typ": "JWT", "kid": key.kid})
    signing_input = f"{head}.{segment(claims(now))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    await rejected(service, f"{signing_input}.{b64(mac)}", "algorithm", now)


# -- keys and signatures -----------------------------------------------------------------------


async def test_a_tampered_payload_fails_the_signature(service: TokenService, now: int) -> None:
    token, _ = service.issue(new_id(), new_id(), ["user"], now)
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["roles"] = ["admin"]
    await rejected(service, f"{head}.{segment(payload)}.{sig}", "signature", now)


async def test_a_signature_by_another_key_with_the_same_kid_fails(
    service: TokenService, now: int
) -> None:
    impostor = SigningKey.generate(now, kid="k1")
    await rejected(service, forge(impostor, claims(now)), "signature", now)


async def test_a_truncated_signature_fails(service: TokenService, now: int) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    await rejected(service, token[:-4], "signature|malformed", now)


async def test_an_unknown_kid_is_rejected(service: TokenService, now: int) -> None:
    stranger = SigningKey.generate(now, kid="k2")
    await rejected(service, forge(stranger, claims(now)), "unknown", now)


async def test_a_key_past_its_retire_at_no_longer_verifies(key: SigningKey, now: int) -> None:
    retiring = SigningKey(key.kid, key.created_at, now + 100, key.private_key)
    service = TokenService(KeyRing.in_memory([retiring]))
    token = forge(retiring, claims(now, exp=now + 200))
    assert (await service.verify(token, now + 99)).exp == now + 200
    await rejected(service, token, "retired", now=now + 100)


# -- claims ------------------------------------------------------------------------------------


async def test_an_expired_token_is_rejected_once_the_skew_has_passed(
    service: TokenService, now: int
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now)
    await rejected(service, token, "expired", now=now + ACCESS_TTL + CLOCK_SKEW)


async def test_a_token_issued_in_the_future_beyond_the_skew_is_rejected(
    service: TokenService, now: int
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], now + CLOCK_SKEW + 1)
    await rejected(service, token, "future", now)


async def test_pyjwt_refuses_a_token_expired_by_the_wall_clock_whatever_now_says(
    service: TokenService, key: SigningKey, now: int
) -> None:
    # `exp` exactly CLOCK_SKEW behind the wall clock: past the leeway. The caller's `now`
    # is the token's `iat`, so only PyJWT's check can refuse it.
    exp = now - CLOCK_SKEW
    token = forge(key, claims(now, iat=exp - ACCESS_TTL, exp=exp))
    await rejected(service, token, "expired", now=exp - ACCESS_TTL)


async def test_pyjwt_accepts_a_token_expired_by_the_wall_clock_within_the_skew(
    service: TokenService, key: SigningKey, now: int
) -> None:
    # Two seconds inside the leeway: a second of margin for the clock to tick meanwhile.
    exp = now - CLOCK_SKEW + 2
    token = forge(key, claims(now, iat=exp - ACCESS_TTL, exp=exp))
    assert (await service.verify(token, exp - ACCESS_TTL)).exp == exp


async def test_pyjwt_allows_iat_up_to_the_skew_ahead_of_the_wall_clock_and_not_beyond(
    service: TokenService, key: SigningKey, now: int
) -> None:
    # The caller's `now` is each token's `iat`, so only PyJWT's wall clock check is tested.
    at_skew = forge(key, claims(now, iat=now + CLOCK_SKEW, exp=lambda exp: exp + CLOCK_SKEW))
    assert (await service.verify(at_skew, now + CLOCK_SKEW)).iat == now + CLOCK_SKEW
    # Two seconds beyond, a second of margin for the clock to tick meanwhile.
    beyond = now + CLOCK_SKEW + 2
    token = forge(key, claims(now, iat=beyond, exp=beyond + ACCESS_TTL))
    await rejected(service, token, "future", now=beyond)


async def test_a_token_for_another_audience_is_rejected(service: TokenService, now: int) -> None:
    other = TokenService(service.ring, audience="billing-api")
    token, _ = other.issue(new_id(), new_id(), [], now)
    assert (await other.verify(token, now)).aud == "billing-api"
    await rejected(service, token, "audience", now)


async def test_an_audience_list_without_ours_is_rejected(
    service: TokenService, key: SigningKey, now: int
) -> None:
    await rejected(service, forge(key, claims(now, aud=["billing-api"])), "audience", now)


async def test_a_token_from_another_issuer_is_rejected(service: TokenService, now: int) -> None:
    token, _ = TokenService(service.ring, issuer="not-quark").issue(new_id(), new_id(), [], now)
    await rejected(service, token, "issuer", now)


@pytest.mark.parametrize("missing", ["sub", "sid", "roles", "iss", "aud", "iat", "exp", "jti"])
async def test_a_token_missing_any_claim_is_refused_naming_it(
    service: TokenService, key: SigningKey, now: int, missing: str
) -> None:
    token = forge(key, claims(now, **{missing: ...}))
    await rejected(service, token, f"^invalid claims: missing {missing}$", now)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # PyJWT reads these through int(); the strict decode refuses them.
        ({"exp": str}, "invalid claims"),
        ({"exp": float}, "invalid claims"),
        # PyJWT reads `true` as 1 and refuses it as long expired.
        ({"exp": True}, "expired"),
        ({"iat": None}, "invalid claims: missing iat"),
        ({"iat": "yesterday"}, "invalid claims"),
        ({"exp": "tomorrow"}, "malformed token: Expiration Time claim"),
        ({"roles": "admin"}, "invalid claims"),
        ({"roles": [1]}, "invalid claims"),
        ({"sub": 42}, "invalid claims"),
        ({"sub": ""}, "invalid claims"),
        ({"sub": "alice"}, "invalid claims: sub and sid must be ids"),
        ({"sid": "s.>"}, "invalid claims: sub and sid must be ids"),
        ({"aud": 7}, "audience"),
        ({"jti": ""}, "invalid claims"),
        ({"jti": 5}, "invalid claims"),
    ],
)
async def test_a_wrongly_typed_claim_is_rejected(
    service: TokenService, key: SigningKey, now: int, change: dict[str, Any], reason: str
) -> None:
    await rejected(service, forge(key, claims(now, **change)), reason, now)


# -- rotation and unknown keys, as the verifier meets them ---------------------------------------


async def test_rotating_an_in_memory_ring_switches_the_signer(
    service: TokenService, now: int
) -> None:
    old_token, _ = service.issue(new_id(), new_id(), [], now)
    rotation = await service.ring.rotate(now, retire_after=300)
    new_token, _ = service.issue(new_id(), new_id(), [], now)
    assert header_of(new_token)["kid"] == rotation.new.kid
    assert [k.kid for k in rotation.retiring] == ["k1"]
    await service.verify(old_token, now + 299)
    await rejected(service, old_token, "retired", now=now + 300)


async def test_unknown_kids_reload_the_ring_at_most_once_a_second(
    key: SigningKey, now: int
) -> None:
    clock = [100.0]
    ring = CountingRing.in_memory([key], clock=lambda: clock[0])
    reloads = ring.reloads
    service = TokenService(ring)
    stranger = SigningKey.generate(now, kid="nope")
    for _ in range(5):
        await rejected(service, forge(stranger, claims(now)), "unknown", now)
    clock[0] += 0.5
    await rejected(service, forge(stranger, claims(now)), "unknown", now)
    assert reloads == [100.0]
    clock[0] += 0.5
    await rejected(service, forge(stranger, claims(now)), "unknown", now)
    assert reloads == [100.0, 101.0]
    token, _ = service.issue(new_id(), new_id(), [], now)
    await service.verify(token, now)  # a known kid never reloads
    assert reloads == [100.0, 101.0]


def test_access_claims_encode_as_a_plain_jwt_payload(key: SigningKey) -> None:
    user, session = new_id(), new_id()
    c = AccessClaims(sub=user, sid=session, roles=("a",), iss="i", aud="a", iat=1, exp=2, jti="j")
    _, body, _ = sign(key, c).split(".")
    payload = msgspec.json.decode(base64.urlsafe_b64decode(body + "=="))
    assert payload == {
        "sub": user,
        "sid": session,
        "roles": ["a"],
        "iss": "i",
        "aud": "a",
        "iat": 1,
        "exp": 2,
        "jti": "j",
    }


# -- the verified-token cache ------------------------------------------------------------------


async def test_a_remembered_signature_does_not_outlive_expiry_or_its_key(
    key: SigningKey, now: int
) -> None:
    ring = KeyRing.in_memory([key])
    service = TokenService(ring)
    user = new_id()
    token, _ = service.issue(user, new_id(), ["user"], now)
    first = await service.verify(token, now)
    assert token in service._verified
    again = await service.verify(token, now + 1)  # from the remembered check
    assert (first.sub, again.sub) == (user, user)
    await rejected(service, token, "expired", now=now + ACCESS_TTL + CLOCK_SKEW)
    # The key retires: the remembered signature no longer counts.
    ring._keys[key.kid] = SigningKey(key.kid, key.created_at, now + 5, key.private_key)
    await rejected(service, token, "retired", now=now + 10)
    # A token that failed is not remembered, and one changed by a byte is checked afresh.
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    await rejected(service, tampered, "signature|malformed", now=now)
    assert tampered not in service._verified


async def test_the_cache_forgets_the_least_recently_used_token_first(
    service: TokenService, now: int
) -> None:
    small = TokenService(service.ring, cache_size=2)
    a, b, c = (service.issue(new_id(), new_id(), [], now)[0] for _ in range(3))
    for token in (a, b, a, c):
        await small.verify(token, now)
    assert list(small._verified) == [a, c]  # `a` was used after `b`, so `b` went
