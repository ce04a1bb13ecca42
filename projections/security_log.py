"""The `security_log` read model (PostgreSQL): what happened to each account's security —
sign-up, sign-ins and their failures, lockouts, second-factor changes, refresh-token reuse,
ended sessions, password and role changes — newest first, for the person themself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.accounts import events as ev


class LogRow(msgspec.Struct, frozen=True):
    position: int
    kind: str
    at: datetime
    detail: dict[str, Any]


def _entry(event: Any) -> tuple[str, str, datetime, dict[str, Any]] | None:
    """(user id, kind, time, detail) of an event worth a line, or None."""
    match event:
        case ev.AccountRegistered():
            return event.user_id, "signed-up", event.registered_at, {}
        case ev.SessionOpened():
            kind = "signed-up-session" if event.method == "signup" else "signed-in"
            detail = {
                "session_id": event.session_id,
                "device": event.device,
                "method": event.method,
            }
            return event.user_id, kind, event.opened_at, detail
        case ev.LoginFailed():
            return event.user_id, "sign-in-failed", event.failed_at, {"reason": event.reason}
        case ev.LoginLockedOut():
            detail = {"reason": event.reason, "until": event.until.isoformat()}
            return event.user_id, "locked-out", event.locked_at, detail
        case ev.RefreshTokenReused():
            return (
                event.user_id,
                "refresh-token-reused",
                event.detected_at,
                {"session_id": event.session_id},
            )
        case ev.SessionRevoked():
            detail = {"session_id": event.session_id, "reason": event.reason}
            return event.user_id, "session-ended", event.revoked_at, detail
        case ev.PasswordChanged():
            return event.user_id, "password-changed", event.changed_at, {"how": event.how}
        case ev.TwoFactorEnabled():
            return event.user_id, "two-factor-enabled", event.enabled_at, {}
        case ev.TwoFactorDisabled():
            return event.user_id, "two-factor-disabled", event.disabled_at, {}
        case ev.RoleGranted():
            detail = {"role": event.role, "by": event.granted_by, "reason": event.reason}
            return event.user_id, "role-granted", event.granted_at, detail
        case ev.RoleRevoked():
            detail = {"role": event.role, "by": event.revoked_by, "reason": event.reason}
            return event.user_id, "role-revoked", event.revoked_at, detail
        case ev.AccountSuspended():
            detail = {"by": event.suspended_by, "reason": event.reason}
            if event.until is not None:
                detail["until"] = event.until.isoformat()
            return event.user_id, "suspended", event.suspended_at, detail
        case ev.AccountUnsuspended():
            detail = {"by": event.unsuspended_by, "reason": event.reason}
            return event.user_id, "unsuspended", event.unsuspended_at, detail
        case ev.AccountLimited():
            detail = {"by": event.limited_by, "reason": event.reason}
            return event.user_id, "limited", event.limited_at, detail
        case ev.AccountUnlimited():
            detail = {"by": event.unlimited_by, "reason": event.reason}
            return event.user_id, "unlimited", event.unlimited_at, detail
        case _:
            return None


class SecurityLogProjection(PgProjection):
    name: ClassVar[str] = "security_log"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(
        e.name
        for e in (
            ev.AccountRegistered,
            ev.SessionOpened,
            ev.LoginFailed,
            ev.LoginLockedOut,
            ev.RefreshTokenReused,
            ev.SessionRevoked,
            ev.PasswordChanged,
            ev.TwoFactorEnabled,
            ev.TwoFactorDisabled,
            ev.RoleGranted,
            ev.RoleRevoked,
            ev.AccountSuspended,
            ev.AccountUnsuspended,
            ev.AccountLimited,
            ev.AccountUnlimited,
            ev.AccountErased,
        )
    )
    ddl: ClassVar[str] = """
        CREATE TABLE entries (
            user_id uuid NOT NULL,
            position bigint NOT NULL,
            idx int NOT NULL,
            kind text NOT NULL,
            at timestamptz NOT NULL,
            detail jsonb NOT NULL,
            PRIMARY KEY (user_id, position, idx)
        );
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        rows = []
        for idx, recorded in enumerate(events):
            if isinstance(recorded.event, ev.AccountErased):
                # Nobody can read a forgotten person's log: it goes with them.
                await _insert(conn, rows)
                rows = []
                await conn.execute("DELETE FROM entries WHERE user_id = $1", recorded.event.user_id)
                continue
            entry = _entry(recorded.event)
            if entry is not None:
                user_id, kind, at, detail = entry
                rows.append(
                    (user_id, recorded.seq, idx, kind, at, msgspec.json.encode(detail).decode())
                )
        await _insert(conn, rows)


async def _insert(conn: asyncpg.Connection, rows: list[Any]) -> None:
    if rows:
        await conn.executemany(
            """INSERT INTO entries (user_id, position, idx, kind, at, detail)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING""",
            rows,
        )


async def entries(
    pool: asyncpg.Pool, user_id: str, *, before: int | None, limit: int
) -> list[LogRow]:
    records = await pool.fetch(
        """SELECT position, kind, at, detail::text FROM security_log.entries
           WHERE user_id = $1::uuid AND ($2::bigint IS NULL OR position < $2)
           ORDER BY position DESC, idx DESC LIMIT $3""",
        user_id,
        before,
        limit,
    )
    return [LogRow(r[0], r[1], r[2], msgspec.json.decode(r[3])) for r in records]


async def two_factor_enabled(pool: asyncpg.Pool, user_id: str) -> bool:
    """Whether the person's second factor is on: the later of their last enabling and
    disabling (nothing else turns it on or off)."""
    kind = await pool.fetchval(
        """SELECT kind FROM security_log.entries
           WHERE user_id = $1::uuid AND kind IN ('two-factor-enabled', 'two-factor-disabled')
           ORDER BY position DESC, idx DESC LIMIT 1""",
        user_id,
    )
    return kind == "two-factor-enabled"
