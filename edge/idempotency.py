"""`Idempotency-Key` on creating POSTs (API conventions): a repeat within 24 h returns the
first answer with the same status.

The first request claims the key in Redis (SET NX) before running; a concurrent repeat gets
409 while the first is in flight; the finished answer is stored for 24 h. A key reused with
a different body is a client bug and gets 422. Answers ≥ 500 are not stored, so a retry
after an outage really retries (the command bus's own dedupe keeps that safe).
"""

from __future__ import annotations

import hashlib

import msgspec
from aiohttp import web

from core.errors import ConflictError, ValidationError
from edge.auth import principal
from edge.context import INFRA
from edge.routing import Handler

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 200


class Stored(msgspec.Struct):
    fingerprint: str
    status: int = 0
    body: bytes = b""
    content_type: str = ""
    headers: dict[str, str] = {}


class RequestInFlight(ConflictError):
    code = "idempotency-in-flight"
    title = "A request with this Idempotency-Key is still being processed"


class KeyReused(ValidationError):
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was used with a different request"


_KEPT_HEADERS = ("Location", "Quark-Position")


def idempotent(handler: Handler, route_id: str) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await handler(request)
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValidationError(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters")
        body = await request.read()
        infra = request.app[INFRA]
        # Keys are per person: one person's key never answers another's request.
        who = (await principal(request)).user_id if "Authorization" in request.headers else ""
        digest = hashlib.sha256(f"{who}|{route_id}|{key}".encode()).hexdigest()
        redis_key = f"{infra.settings.redis_prefix}idem:{digest}"
        fingerprint = hashlib.sha256(body).hexdigest()
        claim = msgspec.json.encode(Stored(fingerprint=fingerprint))
        if not await infra.redis.set(redis_key, claim, nx=True, ex=TTL_SECONDS):
            raw = await infra.redis.get(redis_key)
            if raw is None:  # expired between the two calls: treat as new
                return await wrapped(request)
            stored = msgspec.json.decode(raw, type=Stored)
            if stored.fingerprint != fingerprint:
                raise KeyReused()
            if stored.status == 0:
                raise RequestInFlight(retry_after=1)
            return web.Response(
                status=stored.status,
                body=stored.body,
                content_type=stored.content_type or None,
                headers={**stored.headers, "Idempotent-Replayed": "true"},
            )
        try:
            response = await handler(request)
        except BaseException:
            await infra.redis.delete(redis_key)
            raise
        if response.status >= 500 or not isinstance(response, web.Response):
            await infra.redis.delete(redis_key)
            return response
        stored = Stored(
            fingerprint=fingerprint,
            status=response.status,
            body=response.body if isinstance(response.body, bytes) else b"",
            content_type=response.content_type,
            headers={h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers},
        )
        await infra.redis.set(redis_key, msgspec.json.encode(stored), ex=TTL_SECONDS)
        return response

    return wrapped
