"""Ended sessions, in Redis: an access token of an ended session is refused on the next
request instead of working until it expires.

The handler that ends a session writes here before answering; the edge reads here for every
authenticated request (one GET). An entry only needs to outlive the longest access token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.tokens import ACCESS_TTL

#: Longest access-token lifetime plus the clock skew verification allows.
REMEMBER_SECONDS = ACCESS_TTL + 60


def _key(prefix: str, session_id: str) -> str:
    return f"{prefix}revoked:{session_id}"


async def revoke_sessions(redis: Any, prefix: str, session_ids: Iterable[str]) -> None:
    ids = list(session_ids)
    if not ids:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for sid in ids:
            pipe.set(_key(prefix, sid), b"1", ex=REMEMBER_SECONDS)
        await pipe.execute()


async def is_revoked(redis: Any, prefix: str, session_id: str) -> bool:
    return bool(await redis.exists(_key(prefix, session_id)))
