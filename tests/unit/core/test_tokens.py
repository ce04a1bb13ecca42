"""Access tokens without a server: a ring built from in-memory keys. Every rejection has its
own test, with a token that would pass if that one check were missing (the detail names the
check that refused it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.errors import UnauthorizedError
from core.ids import new_id
from core.tokens import (
    ACCESS_TTL,
    AUDIENCE,
    CLOCK_SKEW,
    ISSUER,
    MAX_TOKEN_BYTES,
    AccessClaims,
    InvalidToken,
    KeyRing,
    NoSigningKey,
    SigningKey,
    TokenService,
    plan_rotation,
    sign,
    signing_key_of,
)

NOW = 1_800_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "sub": new_id(),
        "sid": new_id(),
        "roles": ["user"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": NOW,
        "exp": NOW + ACCESS_TTL,
        "jti": "j1",
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


def forge(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    """A token signed with a real ring key by hand, so only the claim or header under test
    is wrong."""
    head = {"alg": "EdDSA", "typ": "JWT", "kid": key.kid, **header}
    signing_input = f"{segment(head)}.{segment(payload)}"
    return f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate(NOW - 60, kid="k1")


@pytest.fixture
def service(key: SigningKey) -> TokenService:
    return TokenService(KeyRing.in_memory([key]))


async def rejected(service: TokenService, token: str, reason: str, now: int = NOW) -> None:
    with pytest.raises(InvalidToken, match=reason) as caught:
        await service.verify(token, now)
    assert caught.value.status == 401 and caught.value.code == "invalid-token"


# -- the happy path ----------------------------------------------------------------------------


async def test_an_issued_token_verifies_to_its_claims(service: TokenService) -> None:
    user, session = new_id(), new_id()
    token, expires_in = service.issue(user, session, ["user", "mod"], NOW)
    assert expires_in == ACCESS_TTL
    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert head == {"alg": "EdDSA", "typ": "JWT", "kid": "k1"}
    assert "=" not in token
    got = await service.verify(token, NOW + 10)
    assert (got.sub, got.sid, got.roles) == (user, session, ("user", "mod"))
    assert (got.iss, got.aud, got.iat, got.exp) == (ISSUER, AUDIENCE, NOW, NOW + ACCESS_TTL)
    assert len(got.jti) >= 16


def test_every_token_gets_its_own_jti(service: TokenService) -> None:
    user, session = new_id(), new_id()
    first, _ = service.issue(user, session, [], NOW)
    second, _ = service.issue(user, session, [], NOW)
    assert first != second


async def test_an_audience_list_containing_ours_is_accepted(
    service: TokenService, key: SigningKey
) -> None:
    token = forge(key, claims(aud=["other-api", AUDIENCE]))
    assert (await service.verify(token, NOW)).aud == ("other-api", AUDIENCE)


async def test_a_token_is_accepted_within_the_clock_skew_after_exp(
    service: TokenService,
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    await service.verify(token, NOW + ACCESS_TTL + CLOCK_SKEW - 1)


def test_issuing_with_an_empty_ring_is_a_clear_error() -> None:
    with pytest.raises(NoSigningKey):
        TokenService(KeyRing.in_memory([])).issue(new_id(), new_id(), [], NOW)


def test_issuing_for_something_that_is_not_an_id_is_refused(service: TokenService) -> None:
    with pytest.raises(ValueError, match="ids"):
        service.issue("alice.>", new_id(), [], NOW)


def test_invalid_token_is_an_unauthorized_error() -> None:
    assert issubclass(InvalidToken, UnauthorizedError)
    assert InvalidToken.title == "The access token is not valid"


# -- malformed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["", "abc", "a.b", "a.b.c.d", "....", "a..b.c"])
async def test_a_token_without_three_segments_is_rejected(
    service: TokenService, shape: str
) -> None:
    await rejected(service, shape, "malformed")


async def test_a_fourth_segment_after_a_valid_token_is_rejected(service: TokenService) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    await rejected(service, token + ".x", "three segments")


async def test_base64_padding_is_rejected_although_the_signature_would_match(
    service: TokenService,
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    head, body, sig = token.split(".")
    padded = f"{head}.{body}.{sig}=="  # a 64-byte signature is 86 chars; padding makes 88
    await rejected(service, padded, "malformed")


async def test_a_signature_spelled_with_other_unused_bits_is_rejected(
    service: TokenService,
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    head, body, sig = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 86 characters carry 516 bits for 512: the last character's low 4 bits are unused.
    twin = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 0b0001]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(sig + "==")
    await rejected(service, f"{head}.{body}.{twin}", "malformed")


@pytest.mark.parametrize("bad", ["!!!!", "a b", "é", "abcde", "a=b", "AAA+", "AAA/"])
async def test_a_header_that_is_not_base64url_is_rejected(service: TokenService, bad: str) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    _, body, sig = token.split(".")
    await rejected(service, f"{bad}.{body}.{sig}", "malformed")


@pytest.mark.parametrize("header", [b"not json", b"[1,2]", b'"EdDSA"', b"{"])
async def test_a_header_that_is_not_a_json_object_is_rejected(
    service: TokenService, header: bytes
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    _, body, sig = token.split(".")
    await rejected(service, f"{b64(header)}.{body}.{sig}", "malformed")


async def test_a_payload_that_is_not_json_is_rejected(
    service: TokenService, key: SigningKey
) -> None:
    head = segment({"alg": "EdDSA", "typ": "JWT", "kid": key.kid})
    signing_input = f"{head}.{b64(b'not json')}"
    token = f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"
    await rejected(service, token, "invalid claims")


async def test_an_oversized_token_is_rejected_even_when_correctly_signed(
    service: TokenService, key: SigningKey
) -> None:
    token = forge(key, claims(roles=["r" * 50] * 80))
    assert len(token) > MAX_TOKEN_BYTES
    await rejected(service, token, "too long")


async def test_a_header_with_a_key_of_its_own_is_rejected(
    service: TokenService, key: SigningKey
) -> None:
    attacker = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    token = forge(key, claims(), jwk={"kty": "OKP", "crv": "Ed25519", "x": b64(attacker)})
    await rejected(service, token, "malformed")


async def test_a_header_without_kid_is_rejected(service: TokenService, key: SigningKey) -> None:
    head = segment({"alg": "EdDSA", "typ": "JWT"})
    signing_input = f"{head}.{segment(claims())}"
    token = f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"
    await rejected(service, token, "malformed")


async def test_a_typ_other_than_jwt_is_rejected(service: TokenService, key: SigningKey) -> None:
    await rejected(service, forge(key, claims(), typ="at+jwt+other"), "not a JWT")


# -- algorithm confusion -----------------------------------------------------------------------


async def test_alg_none_without_signature_is_rejected(
    service: TokenService, key: SigningKey
) -> None:
    token = f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims())}."
    await rejected(service, token, "algorithm")


@pytest.mark.parametrize("alg", ["none", "None", "ES256", "HS256", "eddsa", "EdDSA ", "Ed25519"])
async def test_any_alg_but_eddsa_is_rejected_even_with_a_valid_signature(
    service: TokenService, key: SigningKey, alg: str
) -> None:
    await rejected(service, forge(key, claims(), alg=alg), "algorithm")


@pytest.mark.parametrize("secret_form", ["raw", "jwks_x"])
async def test_hs256_keyed_with_the_public_key_is_rejected(
    service: TokenService, key: SigningKey, secret_form: str
) -> None:
    public = key.public_key.public_bytes_raw()
    secret = public if secret_form == "raw" else service.ring.jwks(NOW)["keys"][0]["x"].encode()
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    await rejected(service, f"{signing_input}.{b64(mac)}", "algorithm")


# -- keys and signatures -----------------------------------------------------------------------


async def test_a_tampered_payload_fails_the_signature(service: TokenService) -> None:
    token, _ = service.issue(new_id(), new_id(), ["user"], NOW)
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["roles"] = ["admin"]
    await rejected(service, f"{head}.{segment(payload)}.{sig}", "signature")


async def test_a_signature_by_another_key_with_the_same_kid_fails(service: TokenService) -> None:
    impostor = SigningKey.generate(NOW, kid="k1")
    await rejected(service, forge(impostor, claims()), "signature")


async def test_a_truncated_signature_fails(service: TokenService) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    await rejected(service, token[:-4], "signature|malformed")


async def test_an_unknown_kid_is_rejected(service: TokenService) -> None:
    stranger = SigningKey.generate(NOW, kid="k2")
    await rejected(service, forge(stranger, claims()), "unknown")


async def test_a_key_past_its_retire_at_no_longer_verifies(key: SigningKey) -> None:
    retiring = SigningKey(key.kid, key.created_at, NOW + 100, key.private_key)
    service = TokenService(KeyRing.in_memory([retiring]))
    token = forge(retiring, claims(exp=NOW + 200))
    assert (await service.verify(token, NOW + 99)).exp == NOW + 200
    await rejected(service, token, "retired", now=NOW + 100)


# -- claims ------------------------------------------------------------------------------------


async def test_an_expired_token_is_rejected_once_the_skew_has_passed(
    service: TokenService,
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    await rejected(service, token, "expired", now=NOW + ACCESS_TTL + CLOCK_SKEW)


async def test_a_token_issued_in_the_future_beyond_the_skew_is_rejected(
    service: TokenService,
) -> None:
    token, _ = service.issue(new_id(), new_id(), [], NOW + CLOCK_SKEW + 1)
    await rejected(service, token, "future")


async def test_a_token_for_another_audience_is_rejected(service: TokenService) -> None:
    other = TokenService(service.ring, audience="billing-api")
    token, _ = other.issue(new_id(), new_id(), [], NOW)
    assert (await other.verify(token, NOW)).aud == "billing-api"
    await rejected(service, token, "audience")


async def test_an_audience_list_without_ours_is_rejected(
    service: TokenService, key: SigningKey
) -> None:
    await rejected(service, forge(key, claims(aud=["billing-api"])), "audience")


async def test_a_token_from_another_issuer_is_rejected(service: TokenService) -> None:
    token, _ = TokenService(service.ring, issuer="not-quark").issue(new_id(), new_id(), [], NOW)
    await rejected(service, token, "issuer")


@pytest.mark.parametrize("missing", ["sub", "sid", "roles", "iss", "aud", "iat", "exp", "jti"])
async def test_a_missing_claim_is_rejected(
    service: TokenService, key: SigningKey, missing: str
) -> None:
    await rejected(service, forge(key, claims(**{missing: ...})), "invalid claims")


@pytest.mark.parametrize(
    "change",
    [
        {"exp": str(NOW + ACCESS_TTL)},
        {"exp": float(NOW + ACCESS_TTL)},
        {"exp": True},
        {"iat": None},
        {"roles": "admin"},
        {"roles": [1]},
        {"sub": 42},
        {"sub": ""},
        {"sub": "alice"},
        {"sid": "s.>"},
        {"aud": 7},
        {"jti": ""},
    ],
)
async def test_a_wrongly_typed_claim_is_rejected(
    service: TokenService, key: SigningKey, change: dict[str, Any]
) -> None:
    await rejected(service, forge(key, claims(**change)), "invalid claims")


# -- the ring ------------------------------------------------------------------------------------


def test_the_newest_active_key_signs_and_ties_break_on_kid() -> None:
    a = SigningKey.generate(NOW, kid="a")
    b = SigningKey.generate(NOW, kid="b")
    old = SigningKey.generate(NOW - 10, kid="z")
    retiring = SigningKey(
        "zz", NOW + 5, NOW + 1000, Ed25519PrivateKey.generate()
    )  # newer, but retiring
    assert signing_key_of([old, b, a, retiring], NOW) is b
    assert signing_key_of([retiring], NOW) is None


def test_a_rotation_retires_older_keys_and_removes_retired_ones() -> None:
    active = SigningKey.generate(NOW - 100, kid="active")
    retiring = SigningKey("retiring", NOW - 2000, NOW + 50, Ed25519PrivateKey.generate())
    retired = SigningKey("retired", NOW - 3000, NOW, Ed25519PrivateKey.generate())
    plan = plan_rotation([active, retiring, retired], NOW, 600)
    assert [(k.kid, k.retire_at) for k in plan.retiring] == [("active", NOW + 600)]
    assert plan.removed == ["retired"]
    assert plan.new.retire_at is None and plan.new.created_at == NOW


def test_a_rotation_in_the_same_second_as_the_last_still_ranks_the_new_key_first() -> None:
    current = SigningKey.generate(NOW, kid="zzzzzzzzzzzz")  # would win a tie on kid
    plan = plan_rotation([current], NOW, 600)
    assert plan.new.rank > current.rank
    assert signing_key_of([*plan.retiring, plan.new], NOW) is plan.new


def test_a_rotation_never_retires_a_key_ranked_above_its_new_one() -> None:
    newer = SigningKey.generate(NOW + 10, kid="racing")  # a concurrent rotation's key
    plan = plan_rotation([newer], NOW, 600, new=SigningKey.generate(NOW, kid="mine"))
    assert plan.retiring == []


async def test_rotating_an_in_memory_ring_switches_the_signer(service: TokenService) -> None:
    old_token, _ = service.issue(new_id(), new_id(), [], NOW)
    rotation = await service.ring.rotate(NOW, retire_after=300)
    new_token, _ = service.issue(new_id(), new_id(), [], NOW)
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == (
        rotation.new.kid
    )
    assert [k.kid for k in rotation.retiring] == ["k1"]
    await service.verify(old_token, NOW + 299)
    await rejected(service, old_token, "retired", now=NOW + 300)


def test_jwks_lists_the_public_half_of_live_keys_only(key: SigningKey) -> None:
    retired = SigningKey("gone", NOW - 5000, NOW, Ed25519PrivateKey.generate())
    ring = KeyRing.in_memory([key, retired])
    [jwk] = ring.jwks(NOW)["keys"]
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64(key.public_key.public_bytes_raw()),
        "kid": "k1",
        "use": "sig",
        "alg": "EdDSA",
    }
    assert len(ring.jwks(NOW - 1)["keys"]) == 2


async def test_unknown_kids_reload_the_ring_at_most_once_a_second(key: SigningKey) -> None:
    clock = [100.0]
    reloads: list[float] = []

    class CountingRing(KeyRing):
        async def refresh(self) -> None:
            reloads.append(clock[0])

    ring = CountingRing.in_memory([key], clock=lambda: clock[0])
    service = TokenService(ring)
    stranger = SigningKey.generate(NOW, kid="nope")
    for _ in range(5):
        await rejected(service, forge(stranger, claims()), "unknown")
    clock[0] += 0.5
    await rejected(service, forge(stranger, claims()), "unknown")
    assert reloads == [100.0]
    clock[0] += 0.5
    await rejected(service, forge(stranger, claims()), "unknown")
    assert reloads == [100.0, 101.0]
    token, _ = service.issue(new_id(), new_id(), [], NOW)
    await service.verify(token, NOW)  # a known kid never reloads
    assert reloads == [100.0, 101.0]


def test_access_claims_encode_as_a_plain_jwt_payload(key: SigningKey) -> None:
    c = AccessClaims(
        sub=new_id(), sid=new_id(), roles=("a",), iss="i", aud="a", iat=1, exp=2, jti="j"
    )
    _, body, _ = sign(key, c).split(".")
    payload = msgspec.json.decode(base64.urlsafe_b64decode(body + "=="))
    assert set(payload) == {"sub", "sid", "roles", "iss", "aud", "iat", "exp", "jti"}


# -- the verified-token cache ------------------------------------------------------------------


async def test_a_remembered_signature_does_not_outlive_expiry_or_its_key(key: SigningKey) -> None:
    ring = KeyRing.in_memory([key])
    service = TokenService(ring)
    token, _ = service.issue(new_id(), new_id(), ["user"], NOW)
    assert (await service.verify(token, NOW)).sub == (await service.verify(token, NOW + 1)).sub
    assert token in service._verified  # the second call used the remembered check
    await rejected(service, token, "expired", now=NOW + ACCESS_TTL + 60)
    # The key retires: the remembered signature no longer counts.
    ring._keys[key.kid] = SigningKey(key.kid, key.created_at, NOW + 5, key.private_key)
    await rejected(service, token, "retired", now=NOW + 10)
    # A token that failed is not remembered, and one changed by a byte is checked afresh.
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    await rejected(service, tampered, "signature|malformed", now=NOW)
    assert tampered not in service._verified
