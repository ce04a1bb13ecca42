"""The `profiles` read model (PostgreSQL): one row per person — handle, display name, bio,
locale, avatar — for `GET /v1/me`, public profiles and search — and the person's privacy
settings (whether others see their presence).

The account's standing (suspended until when, limited) is kept for the admins' list, for the
person's own `GET /v1/me`, and for the posts read model, whose public listings leave a
limited person's posts out (`projections.posts.NOT_LIMITED`). A suspension with an end is
over when the end passes, with no event: the queries read it as suspended only until then
(`_SUSPENDED_NOW`), the way VIP is read from its end.

A profile starts with the account (the sign-up's display name, from the accounts context's
`AccountRegistered`) and follows the person's `ProfileUpdated` events. Personal fields arrive
sealed and are opened here with the vault: after an erasure they open as "[erased]", in a
replay too, so no read model keeps what the person took back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.personal import ERASED
from core.projection import PgProjection
from handlers.accounts.events import (
    AccountErased,
    AccountLimited,
    AccountRegistered,
    AccountSuspended,
    AccountUnlimited,
    AccountUnsuspended,
    RoleGranted,
    RoleRevoked,
    VipGranted,
)
from handlers.profiles.events import PrivacyChanged, ProfileUpdated

#: The display name of an erased person's profile.
DELETED_NAME = "deleted account"


class ProfileRow(msgspec.Struct, frozen=True):
    user_id: str
    handle: str | None
    display_name: str
    bio: str
    locale: str | None
    avatar_media_id: str | None
    created_at: datetime | None
    updated_at: datetime
    vip_until: datetime | None = None
    #: The account's standing, as of the query: limited, and suspended until when (null
    #: with `suspended`: indefinitely). Shown to the person and to admins, never publicly.
    limited: bool = False
    suspended: bool = False
    suspended_until: datetime | None = None


class ProfilesProjection(PgProjection):
    name: ClassVar[str] = "profiles"
    #: 2: privacy settings (`show_presence`).
    #: 3: the account's standing: `limited`, `suspended_until`.
    version: ClassVar[int] = 3
    consumes: ClassVar[frozenset[str]] = frozenset(
        e.name
        for e in (
            AccountRegistered,
            AccountErased,
            ProfileUpdated,
            PrivacyChanged,
            RoleGranted,
            RoleRevoked,
            AccountSuspended,
            AccountUnsuspended,
            AccountLimited,
            AccountUnlimited,
            VipGranted,
        )
    )
    ddl: ClassVar[str] = """
        CREATE TABLE profiles (
            user_id uuid PRIMARY KEY,
            handle text,
            display_name text NOT NULL DEFAULT '',
            name_set boolean NOT NULL DEFAULT false,
            bio text NOT NULL DEFAULT '',
            locale text,
            avatar_media_id uuid,
            created_at timestamptz,
            updated_at timestamptz NOT NULL,
            -- For the admins' user list (the accounts context's roles and status).
            roles text[] NOT NULL DEFAULT '{user}',
            suspended boolean NOT NULL DEFAULT false,
            -- With `suspended`: when it ends by itself (NULL: indefinitely).
            suspended_until timestamptz,
            -- A limited person's posts reach only their followers (`projections.posts`).
            limited boolean NOT NULL DEFAULT false,
            erased boolean NOT NULL DEFAULT false,
            vip_until timestamptz,
            show_presence boolean NOT NULL DEFAULT true
        );
        -- Claims keep handles unique; the index serves lookups and prefix search.
        CREATE INDEX profiles_handle ON profiles (handle text_pattern_ops);
        CREATE INDEX profiles_name ON profiles (lower(display_name) text_pattern_ops);
        -- The few limited people: public post listings probe it for each post's author,
        -- and the admins' list filters on it.
        CREATE INDEX profiles_limited ON profiles (user_id) WHERE limited;
    """

    async def _open(self, user_id: str, field: str, sealed: Any) -> str | None:
        if sealed is None:
            return None
        return await self.vault.open(user_id, field, sealed)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            match recorded.event:
                case AccountRegistered() as e:
                    name = await self._open(e.user_id, "display_name", e.display_name)
                    await conn.execute(
                        """INSERT INTO profiles (user_id, display_name, created_at, updated_at)
                           VALUES ($1, $2, $3, $3)
                           ON CONFLICT (user_id) DO UPDATE SET
                             created_at = EXCLUDED.created_at,
                             display_name = CASE WHEN profiles.name_set
                                 THEN profiles.display_name ELSE EXCLUDED.display_name END""",
                        e.user_id,
                        name or "",
                        e.registered_at,
                    )
                case ProfileUpdated() as e:
                    name = await self._open(e.user_id, "display_name", e.display_name)
                    bio = await self._open(e.user_id, "bio", e.bio)
                    handle = await self._open(e.user_id, "handle", e.handle)
                    if handle == ERASED:
                        # An erased person's handle: replays meet it before (or after) the
                        # erasure itself, from another stream; it is nobody's handle.
                        handle = None
                    await conn.execute(
                        """INSERT INTO profiles (user_id, handle, display_name, name_set, bio,
                                                 locale, avatar_media_id, updated_at)
                           VALUES ($1, $2, coalesce($3, ''), $3 IS NOT NULL, coalesce($4, ''),
                                   $5, $6::uuid, $8)
                           ON CONFLICT (user_id) DO UPDATE SET
                             handle = coalesce($2, profiles.handle),
                             display_name = coalesce($3, profiles.display_name),
                             name_set = profiles.name_set OR $3 IS NOT NULL,
                             bio = coalesce($4, profiles.bio),
                             locale = coalesce($5, profiles.locale),
                             avatar_media_id = CASE WHEN $7 THEN NULL
                                 ELSE coalesce($6::uuid, profiles.avatar_media_id) END,
                             updated_at = $8
                           WHERE NOT profiles.erased""",
                        e.user_id,
                        handle,
                        name,
                        bio,
                        e.locale,
                        e.avatar_media_id,
                        e.avatar_cleared,
                        e.updated_at,
                    )
                case PrivacyChanged() as e:
                    # A setting, not a profile change: `updated_at` stays (the row may not
                    # exist yet in a replay: AccountRegistered is on another stream).
                    await conn.execute(
                        """INSERT INTO profiles (user_id, show_presence, updated_at)
                           VALUES ($1, $2, $3)
                           ON CONFLICT (user_id) DO UPDATE SET show_presence = $2""",
                        e.user_id,
                        e.show_presence,
                        e.changed_at,
                    )
                case AccountErased() as e:
                    # What is left of a forgotten person: an id, and this.
                    await conn.execute(
                        """UPDATE profiles SET display_name = $2, handle = NULL, bio = '',
                                  locale = NULL, avatar_media_id = NULL, erased = true,
                                  name_set = true, updated_at = $3
                           WHERE user_id = $1""",
                        e.user_id,
                        DELETED_NAME,
                        e.erased_at,
                    )
                case RoleGranted() as e:
                    await self._account_field(
                        conn,
                        e.user_id,
                        "roles = CASE WHEN $2 = ANY(roles) THEN roles ELSE roles || $2 END",
                        e.role,
                        e.granted_at,
                    )
                case RoleRevoked() as e:
                    await self._account_field(
                        conn, e.user_id, "roles = array_remove(roles, $2)", e.role, e.revoked_at
                    )
                case VipGranted() as e:
                    await self._account_field(
                        conn, e.user_id, "vip_until = $2", e.until, e.granted_at
                    )
                case AccountSuspended() as e:
                    await self._account_field(
                        conn,
                        e.user_id,
                        "suspended = true, suspended_until = $2",
                        e.until,
                        e.suspended_at,
                    )
                case AccountUnsuspended() as e:
                    await self._account_field(
                        conn,
                        e.user_id,
                        "suspended = $2, suspended_until = NULL",
                        False,
                        e.unsuspended_at,
                    )
                case AccountLimited() as e:
                    await self._account_field(conn, e.user_id, "limited = $2", True, e.limited_at)
                case AccountUnlimited() as e:
                    await self._account_field(
                        conn, e.user_id, "limited = $2", False, e.unlimited_at
                    )
                case _:
                    pass

    @staticmethod
    async def _account_field(
        conn: asyncpg.Connection, user_id: str, assignment: str, value: Any, at: datetime
    ) -> None:
        # The row exists once AccountRegistered was applied (same stream, earlier).
        await conn.execute(
            f"UPDATE profiles SET {assignment}, updated_at = greatest(updated_at, $3) "
            "WHERE user_id = $1",
            user_id,
            value,
            at,
        )


#: Suspended at the moment of the query: a suspension with an end is over once it passed.
_SUSPENDED_NOW = "(suspended AND (suspended_until IS NULL OR suspended_until > now()))"
_COLUMNS = (
    "user_id::text, handle, display_name, bio, locale, avatar_media_id::text, created_at, "
    f"updated_at, vip_until, limited, {_SUSPENDED_NOW}, "
    f"CASE WHEN {_SUSPENDED_NOW} THEN suspended_until END"
)


async def by_user(pool: asyncpg.Pool, user_id: str) -> ProfileRow | None:
    r = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM profiles.profiles WHERE user_id = $1::uuid", user_id
    )
    return ProfileRow(*r.values()) if r else None


async def by_handle(pool: asyncpg.Pool, handle: str) -> ProfileRow | None:
    r = await pool.fetchrow(f"SELECT {_COLUMNS} FROM profiles.profiles WHERE handle = $1", handle)
    return ProfileRow(*r.values()) if r else None


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(
    pool: asyncpg.Pool, query: str, limit: int, exclude: Collection[str] = ()
) -> list[ProfileRow]:
    """Prefix matches on handle and on the name (or a word of it), best first: the exact
    handle, then handle prefixes, then names; shorter handles before longer ones. Nobody
    in `exclude` (user ids: people blocked either way) is found."""
    q = query.strip().lower()
    prefix = _like_prefix(q)
    records = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM profiles.profiles
            WHERE NOT erased AND NOT (user_id = ANY($5::uuid[]))
              AND (handle LIKE $2 OR lower(display_name) LIKE $2 OR lower(display_name) LIKE $3)
            ORDER BY CASE WHEN handle = $1 THEN 0
                          WHEN handle LIKE $2 THEN 1
                          WHEN lower(display_name) LIKE $2 THEN 2
                          ELSE 3 END,
                     length(coalesce(handle, display_name)), handle, user_id
            LIMIT $4""",
        q,
        prefix,
        "% " + prefix,
        limit,
        list(exclude),
    )
    return [ProfileRow(*r.values()) for r in records]


class AdminRow(msgspec.Struct, frozen=True):
    profile: ProfileRow
    roles: list[str]


async def admin_list(
    pool: asyncpg.Pool,
    *,
    query: str | None,
    role: str | None,
    suspended: bool | None,
    before: str | None,
    limit: int,
    limited: bool | None = None,
) -> list[AdminRow]:
    """Accounts for the admins' list in a stable order (by id, descending; `before` pages
    on), with optional filters (`suspended`: as of now)."""
    clauses, args = [], []
    if query:
        args.append(_like_prefix(query.strip().lower()))
        n = len(args)
        clauses.append(f"(handle LIKE ${n} OR lower(display_name) LIKE ${n})")
    if role:
        args.append(role)
        clauses.append(f"${len(args)} = ANY(roles)")
    if suspended is not None:
        args.append(suspended)
        clauses.append(f"{_SUSPENDED_NOW} = ${len(args)}")
    if limited is not None:
        args.append(limited)
        clauses.append(f"limited = ${len(args)}")
    if before:
        args.append(before)
        clauses.append(f"user_id < ${len(args)}::uuid")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    args.append(limit)
    records = await pool.fetch(
        f"SELECT {_COLUMNS}, roles FROM profiles.profiles {where} "
        f"ORDER BY user_id DESC LIMIT ${len(args)}",
        *args,
    )
    n = len(ProfileRow.__struct_fields__)
    return [AdminRow(ProfileRow(*list(r.values())[:n]), list(r["roles"])) for r in records]


async def by_users(
    pool: asyncpg.Pool | asyncpg.Connection, user_ids: list[str]
) -> dict[str, ProfileRow]:
    records = await pool.fetch(
        f"SELECT {_COLUMNS} FROM profiles.profiles WHERE user_id = ANY($1::uuid[])", user_ids
    )
    rows = [ProfileRow(*r.values()) for r in records]
    return {r.user_id: r for r in rows}


async def handle_owners(pool: asyncpg.Pool, handles: list[str]) -> dict[str, str]:
    """Those of `handles` that belong to someone now, with whose, in the order given."""
    if not handles:
        return {}
    records = await pool.fetch(
        "SELECT handle, user_id::text FROM profiles.profiles WHERE handle = ANY($1::text[])",
        handles,
    )
    found = {r["handle"]: r["user_id"] for r in records}
    return {h: found[h] for h in handles if h in found}


async def vip_until_of(pool: asyncpg.Pool, user_id: str) -> datetime | None:
    """Only the VIP end (limits checks): no personal value is opened."""
    return await pool.fetchval(
        "SELECT vip_until FROM profiles.profiles WHERE user_id = $1::uuid", user_id
    )


class Privacy(msgspec.Struct, frozen=True):
    show_presence: bool = True


async def privacy_of(pool: asyncpg.Pool, user_id: str) -> Privacy | None:
    """The person's privacy settings; None for nobody known."""
    r = await pool.fetchrow(
        "SELECT show_presence FROM profiles.profiles WHERE user_id = $1::uuid", user_id
    )
    return Privacy(r["show_presence"]) if r else None


async def presence_shown(pool: asyncpg.Pool, user_ids: list[str]) -> dict[str, bool]:
    """Of `user_ids`, those who exist, each with whether others may see their presence (an
    erased person's is nobody's business any more)."""
    records = await pool.fetch(
        """SELECT user_id::text, show_presence AND NOT erased FROM profiles.profiles
           WHERE user_id = ANY($1::uuid[])""",
        user_ids,
    )
    return {r[0]: r[1] for r in records}
