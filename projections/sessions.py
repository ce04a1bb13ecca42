"""The `sessions` read model (PostgreSQL): every session of every account, for the
"where am I signed in" list. The IP address stays sealed (the person's key): the edge opens
it for its owner, and erasing the person leaves nothing readable here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.personal import Sealed
from core.projection import PgProjection
from handlers.accounts.events import (
    DeviceRenamed,
    SessionOpened,
    SessionRefreshed,
    SessionRevoked,
)


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


class SessionsProjection(PgProjection):
    name: ClassVar[str] = "sessions"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(
        {SessionOpened.name, SessionRefreshed.name, SessionRevoked.name, DeviceRenamed.name}
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
            -- Where a push subscription (Web Push, FCM) of this device will be attached.
            push_subscription jsonb
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
                case SessionRevoked() as e:
                    await conn.execute(
                        """UPDATE sessions SET ended_at = $2, end_reason = $3
                           WHERE session_id = $1 AND ended_at IS NULL""",
                        e.session_id,
                        e.revoked_at,
                        e.reason,
                    )
                case _:
                    pass


async def active_sessions(pool: asyncpg.Pool, user_id: str) -> list[SessionRow]:
    records = await pool.fetch(
        """SELECT session_id::text, user_id::text, device, ip::text, method, opened_at,
                  last_seen_at, name
           FROM sessions.sessions WHERE user_id = $1::uuid AND ended_at IS NULL
           ORDER BY opened_at DESC LIMIT 200""",
        user_id,
    )
    return [
        SessionRow(
            r[0], r[1], r[2], msgspec.json.decode(r[3], type=Sealed) if r[3] else None, *r[4:]
        )
        for r in records
    ]
