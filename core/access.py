"""Ended sessions and changed roles: kept in JetStream, copied into every edge's memory.

An access token is checked without any lookup (its signature, `core/tokens.py`), and lives
up to `ACCESS_TTL`. Two facts can overrule it before it expires: its session has ended
(sign-out, a password change, suspension, erasure, a reused refresh token), or its holder's
roles have changed. Both are written by the accounts handler to the `ACCESS` stream —
`access.revoked.<session_id>` and `access.roles.<user_id>` — before the command is
answered, so they are durable when the client learns of them. The stream keeps them for
longer than any token lives (`max_age` in streams.yaml); the log stays the truth, and
a Redis that loses its data forgets nothing.

Every edge process holds the whole stream in memory (`AccessList`), so checking a request is
a dictionary lookup:
- at start it subscribes to `access.>` (core NATS, which sees every publish to the stream as
  it happens) and then reads the stream from its first message; until that read is done it
  is not in sync, and the edge answers 503 rather than trusting a partial copy;
- after a reconnection to NATS it reads the stream again (messages published while it was
  away reached the stream, not the subscription), again refusing requests until done;
- before each check it passes a *barrier* (`current()`): a PING to the server whose PONG
  comes back after every message the server had routed to this connection before it, and
  then waits for the subscription to have processed them. A revocation acknowledged to
  its client before that client's next request arrived here was routed to this process
  before that request's PING: the "very next request" sees it, at any edge. Concurrent
  requests share one PING, so the cost is one round trip of latency and almost no CPU.
  (On a NATS cluster the guarantee holds as far as routing between servers is faster than
  a client's round trip through an HTTP answer and a new request; on one server it is exact.)

The same barrier serves the writes announcements of read-your-writes (`edge/writes.py`),
which arrive through another subscription of the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from core.access_claims import ACCESS_TTL, CLOCK_SKEW
from core.errors import UnavailableError
from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE, unavailable
from core.streamreader import read_stream

log = get_logger("quark.access")

STREAM: Final = "ACCESS"
SUBJECTS: Final = "access.>"
#: How long an entry matters: the longest access token plus the clock skew tolerated.
REMEMBER_SECONDS: Final = ACCESS_TTL + CLOCK_SKEW + 60
#: How long a request waits for the barrier before the edge answers 503.
BARRIER_TIMEOUT: Final = 2.0
#: How often the copy checks whether NATS reconnected (then it reads the stream again).
RECONNECT_CHECK_SECONDS: Final = 0.05


class Revoked(msgspec.Struct, frozen=True):
    user_id: str
    until: float


class RolesChanged(msgspec.Struct, frozen=True):
    roles: tuple[str, ...]
    #: The position of the account commit that changed them: a later change wins, in
    #: whatever order the copies hear of them.
    version: int
    until: float


_revoked_decoder = msgspec.json.Decoder(Revoked)
_roles_decoder = msgspec.json.Decoder(RolesChanged)


# -- writing (the accounts handler) ----------------------------------------------------------


async def publish_revocations(
    js: JetStreamContext, user_id: str, session_ids: Iterable[str], *, now: float | None = None
) -> None:
    """Make the ended sessions durable in the stream (each publish is acknowledged after
    it is stored); a retried command republishes under the same message ids: no doubles."""
    until = (time.time() if now is None else now) + REMEMBER_SECONDS
    body = msgspec.json.encode(Revoked(user_id, until))
    for sid in dict.fromkeys(session_ids):
        try:
            await js.publish(
                f"access.revoked.{sid}", body, headers={"Nats-Msg-Id": f"revoked:{sid}"}
            )
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None


async def publish_roles(
    js: JetStreamContext,
    user_id: str,
    roles: Iterable[str],
    version: int,
    *,
    now: float | None = None,
) -> None:
    """Make a person's new roles durable in the stream: from the next request on, every
    edge uses them instead of the roles their unexpired access tokens carry."""
    until = (time.time() if now is None else now) + REMEMBER_SECONDS
    body = msgspec.json.encode(RolesChanged(tuple(sorted(roles)), version, until))
    try:
        await js.publish(
            f"access.roles.{user_id}",
            body,
            headers={"Nats-Msg-Id": f"roles:{user_id}:{version}"},
        )
    except NATS_UNAVAILABLE as exc:
        raise unavailable(exc) from None


# -- reading (every edge) --------------------------------------------------------------------


class NotInSync(UnavailableError):
    code = "access-not-in-sync"
    title = "This server is catching up with ended sessions; retry shortly"


class Barrier:
    """ "Everything the server routed to this connection before now has been processed"."""

    def __init__(self, nc: NATS, subscriptions: list[Subscription] | None = None) -> None:
        self.nc = nc
        self.subscriptions = subscriptions if subscriptions is not None else []
        self._next: asyncio.Future[None] | None = None

    async def wait(self, timeout: float = BARRIER_TIMEOUT) -> None:
        """Return once a PING sent after this call has come back and every subscription
        has processed what arrived before its PONG.

        Raises:
            UnavailableError: NATS did not answer within `timeout`.
        """
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().create_task(self._ping(self._next, timeout))
        await asyncio.shield(self._next)

    async def _ping(self, done: asyncio.Future[None], timeout: float) -> None:
        # Callers arriving from now on need a PING sent after them: the next round.
        self._next = None
        try:
            if not self.nc.is_connected:
                raise UnavailableError("NATS is not connected")
            await self.nc.flush(timeout=timeout)  # type: ignore[arg-type]
            for sub in self.subscriptions:
                # The PONG came after the messages; their callbacks may still be queued.
                await asyncio.wait_for(sub._pending_queue.join(), timeout)
        except UnavailableError as exc:
            done.set_exception(exc)
            done.exception()  # marks it retrieved: every waiter may have been cancelled
        except Exception as exc:  # the NATS client's timeouts and connection errors
            done.set_exception(UnavailableError(f"NATS did not answer ({type(exc).__name__})"))
            done.exception()
        else:
            done.set_result(None)


class AccessList:
    """One edge process's copy of the `ACCESS` stream."""

    def __init__(self, nc: NATS, nats_url: str, *, clock: Any = time.time) -> None:
        #: Run on every (re)sync before the copy counts as in sync: other copies fed by this
        #: connection catch up on what they may have missed (`edge/writes.py` floors).
        self.on_sync: list[Callable[[], Awaitable[None]]] = []
        self.nc = nc
        self.nats_url = nats_url
        self._clock = clock
        self._revoked: dict[str, float] = {}
        self._roles: dict[str, RolesChanged] = {}
        self._sub: Subscription | None = None
        self.barrier = Barrier(nc)
        self._synced_epoch: int | None = None
        self._syncing: asyncio.Task[None] | None = None
        self._watching: asyncio.Task[None] | None = None
        self._pruned_at = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, then read the stream: a message published in between is seen twice
        (harmless), never missed."""
        self._sub = await self.nc.subscribe(
            SUBJECTS, cb=self._on_message, pending_msgs_limit=1_000_000
        )
        self.barrier.subscriptions.append(self._sub)
        await self._sync()
        self._watching = asyncio.get_running_loop().create_task(self._watch_reconnects())

    async def stop(self) -> None:
        for task in (self._watching, self._syncing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    def _epoch(self) -> int:
        return int(self.nc.stats.get("reconnects", 0))

    async def _sync(self) -> None:
        epoch = self._epoch()
        js = self.nc.jetstream()
        try:
            info = await js.stream_info(STREAM)
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        if info.state.messages:
            async for chunk in read_stream(
                self.nats_url, STREAM, info.state.first_seq, info.state.last_seq, nc=self.nc
            ):
                for raw in chunk:
                    self._apply(raw.subject, raw.data)
        for hook in self.on_sync:
            await hook()
        if self._epoch() == epoch and self.nc.is_connected:
            self._synced_epoch = epoch
            log.info("access_synced", revoked=len(self._revoked), roles=len(self._roles))

    @property
    def in_sync(self) -> bool:
        return self._synced_epoch is not None and self._synced_epoch == self._epoch()

    async def current(self) -> None:
        """Wait until this copy holds every change acknowledged before this call.

        Raises:
            NotInSync: the copy is (re)loading after a start or a reconnection.
            UnavailableError: NATS does not answer.
        """
        if not self.in_sync:
            if self._syncing is None or self._syncing.done():
                self._syncing = asyncio.get_running_loop().create_task(self._resync())
            raise NotInSync(retry_after=1)
        await self.barrier.wait()
        if not self.in_sync:  # reconnected while we waited: messages may have been missed
            raise NotInSync(retry_after=1)

    async def _watch_reconnects(self) -> None:
        """Re-read the stream as soon as NATS is back after a disconnection, so the window
        in which requests are refused is the reconnection itself, not "until the first
        request notices"."""
        while True:
            await asyncio.sleep(RECONNECT_CHECK_SECONDS)
            idle = self._syncing is None or self._syncing.done()
            if not self.in_sync and self.nc.is_connected and idle:
                self._syncing = asyncio.get_running_loop().create_task(self._resync())

    async def _resync(self) -> None:
        try:
            await self._sync()
        except Exception as exc:
            log.warning("access_sync_failed", error=repr(exc))
            await asyncio.sleep(0.5)  # before the watcher tries again

    # -- the copy ----------------------------------------------------------------------------

    async def _on_message(self, msg: Msg) -> None:
        self._apply(msg.subject, msg.data)

    def _apply(self, subject: str, data: bytes) -> None:
        kind, _, key = subject.removeprefix("access.").partition(".")
        try:
            if kind == "revoked":
                revoked = _revoked_decoder.decode(data)
                self._revoked[key] = max(revoked.until, self._revoked.get(key, 0.0))
            elif kind == "roles":
                change = _roles_decoder.decode(data)
                known = self._roles.get(key)
                if known is None or change.version >= known.version:
                    self._roles[key] = change
        except msgspec.DecodeError:
            log.warning("access_message_unreadable", subject=subject)
        self._prune()

    def _prune(self) -> None:
        now = self._clock()
        if now - self._pruned_at < 60:
            return
        self._pruned_at = now
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        self._roles = {k: v for k, v in self._roles.items() if v.until > now}

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked

    def roles_of(self, user_id: str, token_roles: Iterable[str]) -> frozenset[str]:
        """The roles to act with: the latest change of this person's roles, if one happened
        while tokens issued before it may still live; else the token's."""
        change = self._roles.get(user_id)
        return frozenset(change.roles if change is not None else token_roles)
