"""Small signed tokens (HMAC-SHA256 under the platform secret) for values the platform hands
out and takes back: pagination cursors, registration and second-factor tokens.

Every token names its `scope`, so a token made for one use is rejected by every other, and
may carry an expiry. They are tamper-evident, not secret: never put personal data in one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import msgspec

#: Longest token accepted (bytes); anything longer is rejected before any work.
MAX_TOKEN = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:16]


#: Keys the token itself uses: a payload naming one would overwrite the scope or the expiry.
RESERVED_KEYS = frozenset({"s", "x"})


def sign(key: bytes, scope: str, payload: dict[str, Any], *, expires_at: int | None = None) -> str:
    reserved = RESERVED_KEYS & payload.keys()
    if reserved:
        # Refused loudly: silently, `s` made a token that never verifies (a cursor did).
        raise ValueError(f"payload keys {sorted(reserved)} are reserved by the token")
    fields: dict[str, Any] = {"s": scope, **payload}
    if expires_at is not None:
        fields["x"] = expires_at
    body = msgspec.json.encode(fields)
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def unsign(key: bytes, scope: str, token: str, *, now: float | None = None) -> dict[str, Any]:
    """The payload of a token this platform signed for `scope`.

    Raises:
        ValueError: tampered, truncated, made for another scope, or expired at `now`.
    """
    if len(token) > MAX_TOKEN:
        raise ValueError("too long")
    try:
        body_text, mac_text = token.split(".", 1)
        body, mac = _unb64(body_text), _unb64(mac_text)
        if not hmac.compare_digest(mac, _mac(key, body)):
            raise ValueError("signature")
        data = msgspec.json.decode(body)
    except (TypeError, msgspec.DecodeError, UnicodeEncodeError, ValueError):
        raise ValueError("not a token") from None
    if not isinstance(data, dict) or data.pop("s", None) != scope:
        raise ValueError("scope")
    expires_at = data.pop("x", None)
    if expires_at is not None and (
        now is None or not isinstance(expires_at, int) or now >= expires_at
    ):
        raise ValueError("expired")
    return data
