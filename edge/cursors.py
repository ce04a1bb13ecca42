"""Opaque, tamper-evident pagination cursors: a small JSON payload signed with the
platform's secret key. A cursor that was changed, truncated or made for another list is
rejected with 400 instead of silently paging somewhere else."""

from __future__ import annotations

from typing import Any

from core.errors import QuarkError
from core.signing import sign, unsign


class BadCursor(QuarkError):
    code = "bad-cursor"
    status = 400
    title = "The cursor is not valid for this list"


def encode_cursor(key: bytes, scope: str, payload: dict[str, Any]) -> str:
    return sign(key, f"cursor:{scope}", payload)


def decode_cursor(key: bytes, scope: str, cursor: str) -> dict[str, Any]:
    try:
        return unsign(key, f"cursor:{scope}", cursor)
    except ValueError:
        raise BadCursor() from None
