"""VAPID (RFC 8292): the installation's application server key for Web Push.

A browser's push subscription is bound to the public key the page gave
`pushManager.subscribe({applicationServerKey})`; every push must then carry a JWT signed
with the matching private key (`Authorization: vapid t=<jwt>, k=<public key>`), or the push
service refuses it. So the key pair must be the same in every process and across restarts,
and must not change while the installation lives: a new key silently ends every
subscription (each browser would have to subscribe again).

Why derived, not stored: the pair is derived from the installation secret
(`QUARK_SECRET_KEY_FILE`) with HKDF, as the person keys' wrapping key and the SMS queue's
key are (`core.personal`, `handlers.accounts.sms_jobs`). Every process computes the same key
with no storage, no creation race between processes starting together and no second secret
to back up. A KV entry sealed under the secret (as the token signing keys are,
`core.signing_keys`) would buy independent rotation, which those keys need (tokens expire;
a leaked key must go) and this one does not want: rotating it is "every device subscribes
again", which is what changing the installation secret already means.
"""

from __future__ import annotations

import base64
import functools
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from py_vapid import Vapid02

#: The order of P-256's base point: a private key is an integer in [1, n - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_INFO = b"quark/vapid"
#: A token's life (RFC 8292: at most 24 hours); one is reused per push service for a
#: fraction of it, so a busy sender signs rarely.
TOKEN_SECONDS = 12 * 3600
_REUSE_SECONDS = 3600
_DEFAULT_PORTS = {"https": 443, "http": 80}


def b64url(data: bytes) -> str:
    """Base64url without padding, as the Push API and JWTs write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def audience(endpoint: str) -> str:
    """The origin of a push endpoint (`https://push.example.net`): the token's `aud`."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


class VapidKey:
    """The application server's key pair and the `Authorization` headers it signs."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._vapid = Vapid02(private_key)
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        #: Uncompressed P-256 point (65 bytes), base64url: `applicationServerKey`.
        self.public_key = b64url(raw)
        self._signed: dict[tuple[str, str], tuple[float, str]] = {}

    @classmethod
    def from_secret(cls, secret: bytes) -> VapidKey:
        """The installation's key, derived from its secret (the same in every process)."""
        return _from_secret(secret)

    def authorization(self, endpoint: str, contact: str, now: float | None = None) -> str:
        """`vapid t=<JWT>,k=<public key>` for a push to `endpoint`.

        Args:
            contact: the `sub` claim (`mailto:` or `https:`), `Settings.push_contact`.
            now: Unix time; the clock when None.
        """
        now = time.time() if now is None else now
        aud = audience(endpoint)
        kept = self._signed.get((aud, contact))
        if kept is not None and now - kept[0] < _REUSE_SECONDS:
            return kept[1]
        claims = {"aud": aud, "sub": contact, "exp": int(now) + TOKEN_SECONDS}
        header = self._vapid.sign(claims)["Authorization"]
        if len(self._signed) > 1024:  # a handful of push services in practice
            self._signed.clear()
        self._signed[(aud, contact)] = (now, header)
        return header


@functools.cache
def _from_secret(secret: bytes) -> VapidKey:
    # 48 bytes for a 32-byte scalar: reducing 384 uniform bits modulo n leaves no bias worth
    # the name (FIPS 186-5, A.2.1 "extra random bits").
    material = HKDF(algorithm=SHA256(), length=48, salt=None, info=_INFO).derive(secret)
    scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
    return VapidKey(ec.derive_private_key(scalar, ec.SECP256R1()))
