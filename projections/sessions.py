"""The `sessions` read model (PostgreSQL): every session of every account, for the
"where am I signed in" list, and each device's Web Push subscription, for the push sender.
The IP address stays sealed (the person's key): the edge opens it for its owner, and erasing
the person leaves nothing readable here. The subscription is opened when applied (the push
sender needs it as it is); after an erasure it opens as "[erased]" and is not kept, and an
ended session drops its subscription."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.logging import get_logger
from core.personal import Sealed
from core.projection import PgProjection
from handlers.accounts.events import (
    DeviceRenamed,
    PushSubscriptionRemoved,
    PushSubscriptionSet,
    SessionOpened,
    SessionRefreshed,
    SessionRevoked,
)

log = get_logger("quark.projections.sessions")


class SessionRow(msgspec.Struct, frozen=True):
    session_id: str
    user_id: str
    device: str
    ip: Sealed | None
    method: str
    opened_at: datetime
    last_seen_at: datetime
    #: The name the person gave this device, if any (opened from its sealed value).
    name: str | None = None
    #: The device's Web Push subscription (`PushSubscriptionJSON`), if it took pushes.
    push_subscription: dict[str, Any] | None = None


class PushTarget(msgspec.Struct, frozen=True):
    """A device to push to: its session, its subscription and the subscription's
    fingerprint (what `ExpirePushSubscription` names)."""

    session_id: str
    subscription: dict[str, Any]
    fingerprint: str


class SessionsProjection(PgProjection):
    name: ClassVar[str] = "sessions"
    #: 2: push subscriptions.
    version: ClassVar[int] = 2
    consumes: ClassVar[frozenset[str]] = frozenset(
        e.name
        for e in (
            SessionOpened,
            SessionRefreshed,
            SessionRevoked,
            DeviceRenamed,
            PushSubscriptionSet,
            PushSubscriptionRemoved,
        )
    )
    ddl: ClassVar[str] = """
        CREATE TABLE sessions (
            session_id uuid PRIMARY KEY,
            user_id uuid NOT NULL,
            device text NOT NULL,
            ip jsonb,
            method text NOT NULL,
            opened_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            ended_at timestamptz,
            end_reason text,
            name text,
            -- The device's Web Push subscription (PushSubscriptionJSON) and its fingerprint.
            push_subscription jsonb,
            push_fingerprint text
        );
        CREATE INDEX sessions_user ON sessions (user_id, opened_at DESC);
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            match recorded.event:
                case SessionOpened() as e:
                    await conn.execute(
                        """INSERT INTO sessions (session_id, user_id, device, ip, method,
                                                 opened_at, last_seen_at)
                           VALUES ($1, $2, $3, $4::jsonb, $5, $6, $6)
                           ON CONFLICT (session_id) DO NOTHING""",
                        e.session_id,
                        e.user_id,
                        e.device,
                        msgspec.json.encode(e.ip).decode() if e.ip else None,
                        e.method,
                        e.opened_at,
                    )
                case SessionRefreshed() as e:
                    await conn.execute(
                        "UPDATE sessions SET last_seen_at = $2 WHERE session_id = $1",
                        e.session_id,
                        e.refreshed_at,
                    )
                case DeviceRenamed() as e:
                    name = await self.vault.open(e.user_id, "device_name", e.device_name)
                    await conn.execute(
                        "UPDATE sessions SET name = $2 WHERE session_id = $1",
                        e.session_id,
                        name,
                    )
                case PushSubscriptionSet() as e:
                    await self._subscribed(conn, e)
                case PushSubscriptionRemoved() as e:
                    await conn.execute(
                        """UPDATE sessions SET push_subscription = NULL, push_fingerprint = NULL
                           WHERE session_id = $1""",
                        e.session_id,
                    )
                case SessionRevoked() as e:
                    await conn.execute(
                        """UPDATE sessions SET ended_at = $2, end_reason = $3,
                                  push_subscription = NULL, push_fingerprint = NULL
                           WHERE session_id = $1 AND ended_at IS NULL""",
                        e.session_id,
                        e.revoked_at,
                        e.reason,
                    )
                case _:
                    pass

    async def _subscribed(self, conn: asyncpg.Connection, e: PushSubscriptionSet) -> None:
        opened = await self.vault.open(e.user_id, "push_subscription", e.subscription)
        try:
            subscription = msgspec.json.decode(opened, type=dict[str, Any])
        except msgspec.DecodeError:
            # Erased: nothing to push to, and nothing personal to keep.
            log.info("push_subscription_unreadable", session_id=e.session_id)
            subscription = None
        await conn.execute(
            """UPDATE sessions SET push_subscription = $2::jsonb, push_fingerprint = $3
               WHERE session_id = $1 AND ended_at IS NULL""",
            e.session_id,
            None if subscription is None else msgspec.json.encode(subscription).decode(),
            None if subscription is None else e.fingerprint,
        )


async def active_sessions(pool: asyncpg.Pool, user_id: str) -> list[SessionRow]:
    records = await pool.fetch(
        """SELECT session_id::text, user_id::text, device, ip::text, method, opened_at,
                  last_seen_at, name, push_subscription::text
           FROM sessions.sessions WHERE user_id = $1::uuid AND ended_at IS NULL
           ORDER BY opened_at DESC LIMIT 200""",
        user_id,
    )
    return [
        SessionRow(
            r[0],
            r[1],
            r[2],
            msgspec.json.decode(r[3], type=Sealed) if r[3] else None,
            *r[4:8],
            msgspec.json.decode(r[8]) if r[8] else None,
        )
        for r in records
    ]


async def push_targets(pool: asyncpg.Pool, user_id: str) -> list[PushTarget]:
    """The person's open sessions whose devices take pushes."""
    records = await pool.fetch(
        """SELECT session_id::text, push_subscription::text, push_fingerprint
           FROM sessions.sessions
           WHERE user_id = $1::uuid AND ended_at IS NULL AND push_subscription IS NOT NULL
           ORDER BY opened_at DESC LIMIT 200""",
        user_id,
    )
    return [PushTarget(r[0], msgspec.json.decode(r[1]), r[2]) for r in records]
