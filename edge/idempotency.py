"""`Idempotency-Key` on creating POSTs (API conventions): a retry converges on the first
attempt's result, whatever happened to that attempt.

Convergence does not rest on this module's Redis record but on the log. With a key, the
command id and the ids the command creates are functions of (person, route, key)
(`created_id`, `command_id_for`): a retry sends the very same command, and the handler
recognises its earlier commit through the log's own dedupe (`core.bus.transact`) and answers
as the first time — 201 with the same id — even when the first attempt committed and was
then answered 503, or its edge process was killed mid-request.

The Redis record adds three things on top:
- the first answer is replayed for 24 h without reaching a handler (`Idempotent-Replayed`);
- a key reused with a different body is refused (422), since it names another request;
- while one attempt is in flight, a concurrent repeat gets 409 with `Retry-After`. This
  claim lives no longer than the command timeout: an attempt whose edge died leaves a claim
  that simply expires, and the next retry proceeds (and converges).
Answers of 500 and more are not stored: a retry after an outage really retries.
"""

from __future__ import annotations

import hashlib
import math
import secrets

import msgspec
from aiohttp import web

from core.errors import ConflictError, ValidationError
from edge.auth import principal
from edge.context import IDEMPOTENCY_SEED, INFRA
from edge.routing import Handler

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 200


class Stored(msgspec.Struct, omit_defaults=True):
    fingerprint: str
    status: int = 0
    body: bytes = b""
    content_type: str = ""
    headers: dict[str, str] = {}
    #: While an attempt is in flight (status 0): until when (Redis clock, unix ms) a
    #: concurrent repeat is told to wait.
    locked_until: int = 0
    owner: str = ""


class RequestInFlight(ConflictError):
    code = "idempotency-in-flight"
    title = "A request with this Idempotency-Key is still being processed"


class KeyReused(ValidationError):
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was used with a different request"


_KEPT_HEADERS = ("Location", "Quark-Position")

#: Claim a key atomically, on Redis's clock (edges' clocks may differ).
#: ARGV: fingerprint, lock milliseconds, record TTL seconds, owner token.
#: Returns {verdict, record or wait ms}: claimed | done | busy | reused.
_CLAIM = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
if v then
  local rec = cjson.decode(v)
  if rec.fingerprint ~= ARGV[1] then return {'reused', ''} end
  if (rec.status or 0) ~= 0 then return {'done', v} end
  local until_ms = rec.locked_until or 0
  if until_ms > now then return {'busy', tostring(until_ms - now)} end
end
local claim = cjson.encode({fingerprint = ARGV[1], locked_until = now + tonumber(ARGV[2]),
                            owner = ARGV[4]})
redis.call('SET', KEYS[1], claim, 'EX', tonumber(ARGV[3]))
return {'claimed', claim}
"""

#: Lift our claim after a failed attempt (only if it is still ours): the fingerprint stays,
#: so a different request under the same key is still refused.
_RELEASE = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local rec = cjson.decode(v)
if rec.owner ~= ARGV[1] or (rec.status or 0) ~= 0 then return 0 end
redis.call('SET', KEYS[1], cjson.encode({fingerprint = rec.fingerprint}), 'KEEPTTL')
return 1
"""


def idempotent(handler: Handler, route_id: str, *, streamed: bool = False) -> Handler:
    """With `streamed` (uploads), the body is not read here: the fingerprint is its type
    and length, and a retry with other bytes of the same length is refused by the handler
    (the upload's hash is part of the command)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await handler(request)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise ValidationError(
                f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters"
            )
        if streamed:
            body = f"{request.content_type}|{request.content_length}".encode()
        else:
            body = await request.read()
        infra = request.app[INFRA]
        # Keys are per person: one person's key never answers (or blocks) another's request.
        who = (await principal(request)).user_id if "Authorization" in request.headers else ""
        scope = f"{who}|{route_id}|{key}"
        request[IDEMPOTENCY_SEED] = hashlib.sha256(scope.encode()).hexdigest()
        redis_key = f"{infra.settings.redis_prefix}idem:{request[IDEMPOTENCY_SEED]}"
        fingerprint = hashlib.sha256(body).hexdigest()
        owner = secrets.token_hex(8)
        lock_ms = int(infra.settings.command_timeout * 1000)
        verdict, value = await infra.redis.eval(
            _CLAIM, 1, redis_key, fingerprint, lock_ms, TTL_SECONDS, owner
        )
        verdict = verdict.decode() if isinstance(verdict, bytes) else verdict
        if verdict == "reused":
            raise KeyReused()
        if verdict == "busy":
            raise RequestInFlight(retry_after=math.ceil(int(value) / 1000))
        if verdict == "done":
            stored = msgspec.json.decode(value, type=Stored)
            return web.Response(
                status=stored.status,
                body=stored.body,
                content_type=stored.content_type or None,
                headers={**stored.headers, "Idempotent-Replayed": "true"},
            )
        try:
            response = await handler(request)
        except BaseException:
            await infra.redis.eval(_RELEASE, 1, redis_key, owner)
            raise
        if response.status >= 500 or not isinstance(response, web.Response):
            await infra.redis.eval(_RELEASE, 1, redis_key, owner)
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
