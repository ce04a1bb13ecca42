"""The push sender: notifications reach the devices of people who are not connected, through
Web Push (RFC 8030 delivery, RFC 8291 aes128gcm encryption, RFC 8292 VAPID).

- **What it sends.** It reads the INBOX stream's `inbox.<person>` items of type
  `notification`, the very items the live channel delivers (`projections/notifications_live`),
  so a push says what the notification list shows: the person's choices and blocks were
  applied when the item was made. An item already read, or older than the push TTL (the
  sender was down), is not pushed. No other context is imported: the devices are this
  context's sessions and the notifications come as the live channel carries them.
- **To whom.** Only to people with no open gateway connection (`core.presence`, the Redis
  sets the gateway keeps): someone with the app open gets the live item instead. Then to
  every open session of theirs with a subscription (`projections.sessions.push_targets`).
- **Exactly once per device, as far as it can tell.** A durable consumer, acked once every
  device was handled. Before a push, a Redis key per (session, notification, its time) is
  set with NX: a redelivered item, or one a second sender also holds, is not pushed twice to
  a device; a push that fails for a while clears its key so the retry sends it.
- **Answers.** 2xx: done. 404/410: the subscription is gone, removed by the command
  `ExpirePushSubscription` (only if it is still that subscription). 429 and 5xx, or no
  answer: the item is redelivered with growing delays (or the service's `Retry-After`), at
  most `MAX_DELIVER` times. Anything else (a redirect, 400, 401, 403, 413) would fail again
  the same way: logged, not retried.
- **Fetching safely.** Endpoints were checked when stored (https, a public name; see
  `handlers.accounts.push`), and are checked again before each push. A name is resolved by
  `PublicOnly`, which keeps public addresses only, and the socket connects to an address it
  kept (no second lookup), so a name that resolves, or later re-resolves, to the station's
  own network is refused. The sender never follows a redirect, gives each push
  `QUARK_PUSH_TIMEOUT_SECONDS` in all, and has at most `QUARK_PUSH_CONCURRENCY` in flight.
  With `QUARK_PUSH_ALLOW_LOCAL_ENDPOINTS` (tests, dev) any address is reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import math
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, ClassVar

import aiohttp
import aiohttp.abc
import msgspec
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pywebpush import WebPusher, WebPushException

from core.errors import QuarkError
from core.ids import derived_id
from core.inbox import STREAM as INBOX
from core.logging import get_logger
from core.metrics import PUSHES_TOTAL
from core.moderation import SYSTEM
from core.natsutil import NATS_UNAVAILABLE
from core.vapid import VapidKey
from core.worker_loop import ConsumerLoop
from handlers.accounts import push_texts
from handlers.accounts.commands import ExpirePushSubscription
from handlers.accounts.push import endpoint_problem
from projections import profiles as profiles_model
from projections import sessions as sessions_model

log = get_logger("quark.push")

CONSUMER = "push_sender"
MAX_DELIVER = 6
#: Delay before the n-th redelivery of an item whose push failed for a while (seconds).
BACKOFF = (2.0, 10.0, 30.0, 120.0, 300.0)
#: The longest `Retry-After` a push service may impose on the retry (seconds).
RETRY_AFTER_MAX = 600.0
#: How long the "pushed to this device" keys live: longer than any redelivery takes.
SENT_KEY_SECONDS = 2 * 86_400


class Outcome(Enum):
    DONE = "done"
    RETRY = "retry"


class NotPublic(OSError):
    """A push service's name resolved to no public address."""


class PublicOnly(aiohttp.abc.AbstractResolver):
    """DNS resolution that keeps only public (globally routable) addresses: the addresses
    the connector then connects to, so what was checked is what is reached."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [a for a in found if ipaddress.ip_address(a["host"]).is_global]
        if not kept:
            raise NotPublic(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._inner.close()


@dataclass
class PushSender:
    """Pushes notifications to the devices of people who are not connected (Web Push)."""

    #: Its own module on the station (discovery, `quark status`, `quark scale`).
    module: ClassVar[str] = "push-sender"
    infra: Any
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("pushed", "online", "no_device", "expired", "failed", "retried"), 0
        )
    )
    _loop: ConsumerLoop | None = None
    _http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        settings = self.infra.settings
        self._vapid = VapidKey.from_secret(self.infra.secret_key)
        self._slots = asyncio.Semaphore(settings.push_concurrency)
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.push_concurrency,
                resolver=None if settings.push_allow_local_endpoints else PublicOnly(),
            ),
            timeout=aiohttp.ClientTimeout(total=settings.push_timeout_seconds),
        )
        config = ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            # From now on: a new installation does not push a month of old items.
            deliver_policy=DeliverPolicy.NEW,
            filter_subject="inbox.>",
            max_deliver=MAX_DELIVER,
            ack_wait=max(60, int(settings.push_timeout_seconds * 4)),
            max_ack_pending=1000,
        )
        self._loop = ConsumerLoop(
            self.infra.nc.jetstream(),
            INBOX,
            config,
            self._handle_batch,
            name="push-sender",
            batch=settings.push_concurrency,
        )
        await self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
        if self._http is not None:
            await self._http.close()

    def status(self) -> dict[str, Any]:
        """What the hub shows: how many pushes went how."""
        return {"counts": dict(self.counts)}

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        PUSHES_TOTAL.labels(outcome).inc()

    async def _handle_batch(self, msgs: list[Any]) -> None:
        await asyncio.gather(*(self._handle(m) for m in msgs))

    async def _handle(self, msg: Any) -> None:
        try:
            retry_after = await self._deliver(msg.subject, msg.data)
        except Exception:
            log.exception("push_crashed")
            retry_after = BACKOFF[0]
        with contextlib.suppress(*NATS_UNAVAILABLE):
            if retry_after is None:
                await msg.ack()
                return
            attempt = msg.metadata.num_delivered
            if attempt >= MAX_DELIVER:
                self._count("failed")
                log.error("push_given_up", attempt=attempt)
                await msg.term()
                return
            self._count("retried")
            delay = max(retry_after, BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
            await msg.nak(delay=delay)

    async def _deliver(self, subject: str, data: bytes) -> float | None:
        """Push one inbox item to its person's devices; None when done, else how long at
        least to wait before trying again (the longest `Retry-After` among the failures)."""
        try:
            item = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return None
        if not isinstance(item, dict) or item.get("type") != "notification":
            return None
        notification = item.get("notification") or {}
        if notification.get("read") or not isinstance(notification.get("id"), str):
            return None
        user_id = subject.split(".", 1)[1]
        if self._too_old(notification.get("at")):
            return None
        state = (await self.infra.presence.states([user_id]))[user_id]
        if state.online:
            self._count("online")
            return None
        targets = await sessions_model.push_targets(self.infra.pool, user_id)
        if not targets:
            self._count("no_device")
            return None
        body = await self._payload(user_id, notification)
        urgency = push_texts.urgency(str(notification.get("kind")))
        mark = hashlib.sha256(f"{notification['id']}\x00{notification.get('at')}".encode())
        outcomes = await asyncio.gather(
            *(self._push(user_id, t, body, urgency, mark.hexdigest()[:32]) for t in targets)
        )
        waits = [wait for outcome, wait in outcomes if outcome is Outcome.RETRY]
        return max(waits) if waits else None

    def _too_old(self, at: Any) -> bool:
        try:
            when = datetime.fromisoformat(str(at))
        except ValueError:
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (datetime.now(UTC) - when).total_seconds() > self.infra.settings.push_ttl_seconds

    async def _payload(self, user_id: str, notification: dict[str, Any]) -> bytes:
        pool = self.infra.pool
        me = await profiles_model.by_user(pool, user_id)
        actors = notification.get("actors") or []
        actor = await profiles_model.by_user(pool, actors[0]) if actors else None
        made = push_texts.payload(
            notification,
            actor_name=actor.display_name if actor else None,
            actor_handle=actor.handle if actor else None,
            locale=me.locale if me else None,
        )
        return msgspec.json.encode(made)

    async def _push(
        self,
        user_id: str,
        target: sessions_model.PushTarget,
        body: bytes,
        urgency: str,
        mark: str,
    ) -> tuple[Outcome, float]:
        subscription = target.subscription
        expires = subscription.get("expirationTime")
        if expires is not None and expires <= time.time() * 1000:
            return Outcome.DONE, 0.0  # the push service no longer takes it
        allow_local = self.infra.settings.push_allow_local_endpoints
        if endpoint_problem(subscription["endpoint"], allow_local=allow_local) is not None:
            # Stored while local endpoints were allowed, and they no longer are.
            log.warning("push_endpoint_refused", session_id=target.session_id)
            return Outcome.DONE, 0.0
        redis = self.infra.redis
        key = f"{self.infra.settings.redis_prefix}push:{target.session_id}:{mark}"
        if not await redis.set(key, b"1", nx=True, ex=SENT_KEY_SECONDS):
            return Outcome.DONE, 0.0  # already pushed to this device
        try:
            status, retry_after = await self._post(subscription, body, urgency)
            if 200 <= status < 300:
                self._count("pushed")
                return Outcome.DONE, 0.0
            if status in (404, 410):
                await self._expire(user_id, target)
                self._count("expired")
                return Outcome.DONE, 0.0
            if status == 429 or status >= 500:
                log.warning("push_refused_for_now", status=status, session_id=target.session_id)
                await redis.delete(key)
                return Outcome.RETRY, retry_after
            log.error("push_refused", status=status, session_id=target.session_id)
            self._count("failed")
            return Outcome.DONE, 0.0
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, NotPublic):
                log.error("push_endpoint_not_public", session_id=target.session_id)
                self._count("failed")
                return Outcome.DONE, 0.0
            log.warning("push_failed", error=repr(exc), session_id=target.session_id)
            await redis.delete(key)
            return Outcome.RETRY, 0.0
        except (aiohttp.ClientError, TimeoutError, WebPushException, QuarkError) as exc:
            log.warning("push_failed", error=repr(exc), session_id=target.session_id)
            await redis.delete(key)
            return Outcome.RETRY, 0.0
        except BaseException:
            await redis.delete(key)
            raise

    async def _post(
        self, subscription: dict[str, Any], body: bytes, urgency: str
    ) -> tuple[int, float]:
        """One push (encrypted with pywebpush's RFC 8291 encoder, sent here so that no
        redirect is followed and the answer's body is never read); its status and the
        service's `Retry-After` (seconds, 0 without one)."""
        endpoint = subscription["endpoint"]
        encrypted = WebPusher(subscription).encode(body, "aes128gcm")["body"]
        headers = {
            "Authorization": self._vapid.authorization(endpoint, self.infra.settings.push_contact),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.infra.settings.push_ttl_seconds),
            "Urgency": urgency,
        }
        assert self._http is not None, "started"
        async with (
            self._slots,
            self._http.post(endpoint, data=encrypted, headers=headers, allow_redirects=False) as r,
        ):
            return r.status, _retry_after(r.headers.get("Retry-After"))

    async def _expire(self, user_id: str, target: sessions_model.PushTarget) -> None:
        command = ExpirePushSubscription(
            user_id=user_id, session_id=target.session_id, fingerprint=target.fingerprint
        )
        await self.infra.bus.send(
            command,
            actor=SYSTEM,
            # The same subscription failing again is the same command (deduplicated).
            command_id=derived_id(
                self.infra.secret_key, "push-expired", target.session_id, target.fingerprint
            ),
        )


def _retry_after(value: str | None) -> float:
    """`Retry-After` in seconds (a number of seconds or an HTTP date), bounded; 0 without."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
        if not math.isfinite(seconds):
            return 0.0
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return 0.0
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)
