"""Opaque, tamper-evident pagination cursors: a small JSON payload signed with the
platform's secret key. A cursor that was changed, truncated or made for another list is
rejected with 400 instead of silently paging somewhere else."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import msgspec

from core.errors import QuarkError


class BadCursor(QuarkError):
    code = "bad-cursor"
    status = 400
    title = "The cursor is not valid for this list"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(key: bytes, scope: str, payload: dict[str, Any]) -> str:
    body = msgspec.json.encode({"s": scope, **payload})
    mac = hmac.new(key, body, hashlib.sha256).digest()[:16]
    return f"{_b64(body)}.{_b64(mac)}"


def decode_cursor(key: bytes, scope: str, cursor: str) -> dict[str, Any]:
    try:
        body_text, mac_text = cursor.split(".", 1)
        body, mac = _unb64(body_text), _unb64(mac_text)
        expected = hmac.new(key, body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, expected):
            raise ValueError("signature")
        data = msgspec.json.decode(body)
        if not isinstance(data, dict) or data.pop("s", None) != scope:
            raise ValueError("scope")
        return data
    except (ValueError, TypeError, msgspec.DecodeError):
        raise BadCursor() from None
