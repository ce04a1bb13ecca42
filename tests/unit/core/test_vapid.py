"""The installation's VAPID key: derived from its secret (the same in every process), and
tokens a push service accepts: ES256 over the endpoint's origin, short-lived, with a contact."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import ConfigError
from core.settings import load_settings
from core.vapid import TOKEN_SECONDS, VapidKey, audience


def _point(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_key_is_a_function_of_the_installation_secret() -> None:
    one, same, other = (VapidKey.from_secret(s) for s in (b"a" * 64, b"a" * 64, b"b" * 64))
    assert one.public_key == same.public_key != other.public_key
    raw = _point(one.public_key)
    assert (len(raw), raw[0]) == (65, 4)
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def test_a_token_is_signed_for_the_push_services_origin() -> None:
    key = VapidKey.from_secret(b"c" * 64)
    now = time.time()
    header = key.authorization(
        "https://push.example.net/wpush/v2/abc", "mailto:ops@example.org", now
    )
    scheme, _, params = header.partition(" ")
    parts = dict(p.split("=", 1) for p in params.split(","))
    assert (scheme, parts["k"]) == ("vapid", key.public_key)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _point(parts["k"]))
    claims = jwt.decode(
        parts["t"], key=public, algorithms=["ES256"], audience="https://push.example.net"
    )
    assert claims["sub"] == "mailto:ops@example.org"
    assert claims["exp"] == int(now) + TOKEN_SECONDS <= now + 24 * 3600
    # Reused for a while for the same service, never for another.
    assert key.authorization("https://push.example.net/other", "mailto:ops@example.org") == header
    assert key.authorization("https://fcm.googleapis.com/x", "mailto:ops@example.org") != header


def test_the_audience_is_the_origin_without_a_default_port() -> None:
    assert audience("https://push.example.net:443/a?b") == "https://push.example.net"
    assert audience("http://127.0.0.1:8123/push/x") == "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    ("contact", "ok"),
    [
        ("mailto:ops@example.org", True),
        ("mailto:postmaster@localhost", True),
        ("https://example.org", True),
        ("ops@example.org", False),
        ("mailto:ops@example", False),
        ("https://example.org/contact", False),
        ("http://example.org", False),
    ],
)
def test_the_contact_setting_is_one_push_services_accept(contact: str, ok: bool) -> None:
    env = {"QUARK_PUSH_CONTACT": contact}
    if ok:
        assert load_settings(env).push_contact == contact
    else:
        with pytest.raises(ConfigError, match=r"QUARK_PUSH_CONTACT|push_contact"):
            load_settings(env)


def test_local_push_endpoints_are_refused_in_production() -> None:
    with pytest.raises(ConfigError, match="push_allow_local_endpoints"):
        load_settings({"QUARK_ENV": "production", "QUARK_PUSH_ALLOW_LOCAL_ENDPOINTS": "true"})
