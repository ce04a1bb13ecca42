"""The signing key ring without a server: which key signs, what a rotation retires and
removes, and the public keys it publishes. How tokens verify across a rotation is tested in
`test_tokens.py`, the ring against a real bucket in the integration tests.
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.signing_keys import KeyRing, SigningKey, plan_rotation, signing_key_of


@pytest.fixture
def now() -> int:
    return int(time.time())


def test_the_newest_active_key_signs_and_ties_break_on_kid(now: int) -> None:
    a = SigningKey.generate(now, kid="a")
    b = SigningKey.generate(now, kid="b")
    old = SigningKey.generate(now - 10, kid="z")
    retiring = SigningKey(
        "zz", now + 5, now + 1000, Ed25519PrivateKey.generate()
    )  # newer, but retiring
    assert signing_key_of([old, b, a, retiring], now) is b
    assert signing_key_of([retiring], now) is None


def test_a_rotation_retires_older_keys_and_removes_retired_ones(now: int) -> None:
    active = SigningKey.generate(now - 100, kid="active")
    retiring = SigningKey("retiring", now - 2000, now + 50, Ed25519PrivateKey.generate())
    retired = SigningKey("retired", now - 3000, now, Ed25519PrivateKey.generate())
    plan = plan_rotation([active, retiring, retired], now, 600)
    assert [(k.kid, k.retire_at) for k in plan.retiring] == [("active", now + 600)]
    assert plan.removed == ["retired"]
    assert plan.new.retire_at is None and plan.new.created_at == now


def test_a_rotation_in_the_same_second_as_the_last_still_ranks_the_new_key_first(
    now: int,
) -> None:
    current = SigningKey.generate(now, kid="zzzzzzzzzzzz")  # would win a tie on kid
    plan = plan_rotation([current], now, 600)
    assert plan.new.rank > current.rank
    assert signing_key_of([*plan.retiring, plan.new], now) is plan.new


def test_a_rotation_never_retires_a_key_ranked_above_its_new_one(now: int) -> None:
    newer = SigningKey.generate(now + 10, kid="racing")  # a concurrent rotation's key
    plan = plan_rotation([newer], now, 600, new=SigningKey.generate(now, kid="mine"))
    assert plan.retiring == []


def test_jwks_lists_the_public_half_of_live_keys_only(now: int) -> None:
    key = SigningKey.generate(now - 60, kid="k1")
    retired = SigningKey("gone", now - 5000, now, Ed25519PrivateKey.generate())
    ring = KeyRing.in_memory([key, retired])
    [jwk] = ring.jwks(now)["keys"]
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(key.public_key.public_bytes_raw()).rstrip(b"=").decode(),
        "kid": "k1",
        "use": "sig",
        "alg": "EdDSA",
    }
    assert len(ring.jwks(now - 1)["keys"]) == 2
