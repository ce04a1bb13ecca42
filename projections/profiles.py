"""The `profiles` read model (PostgreSQL): one row per person — handle, display name, bio,
locale, avatar — for `GET /v1/me`, public profiles and search.

A profile starts with the account (the sign-up's display name, from the accounts context's
`AccountRegistered`) and follows the person's `ProfileUpdated` events. Personal fields arrive
sealed and are opened here with the vault: after an erasure they open as "[erased]", in a
replay too, so no read model keeps what the person took back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.accounts.events import AccountRegistered
from handlers.profiles.events import ProfileUpdated


class ProfileRow(msgspec.Struct, frozen=True):
    user_id: str
    handle: str | None
    display_name: str
    bio: str
    locale: str | None
    avatar_media_id: str | None
    created_at: datetime | None
    updated_at: datetime


class ProfilesProjection(PgProjection):
    name: ClassVar[str] = "profiles"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset({AccountRegistered.name, ProfileUpdated.name})
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
            updated_at timestamptz NOT NULL
        );
        -- Claims keep handles unique; the index serves lookups and prefix search.
        CREATE INDEX profiles_handle ON profiles (handle text_pattern_ops);
        CREATE INDEX profiles_name ON profiles (lower(display_name) text_pattern_ops);
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
                             updated_at = $8""",
                        e.user_id,
                        handle,
                        name,
                        bio,
                        e.locale,
                        e.avatar_media_id,
                        e.avatar_cleared,
                        e.updated_at,
                    )
                case _:
                    pass


_COLUMNS = (
    "user_id::text, handle, display_name, bio, locale, avatar_media_id::text, created_at, "
    "updated_at"
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


async def search(pool: asyncpg.Pool, query: str, limit: int) -> list[ProfileRow]:
    """Prefix matches on handle and on the name (or a word of it), best first: the exact
    handle, then handle prefixes, then names; shorter handles before longer ones."""
    q = query.strip().lower()
    prefix = _like_prefix(q)
    records = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM profiles.profiles
            WHERE handle LIKE $2 OR lower(display_name) LIKE $2 OR lower(display_name) LIKE $3
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
    )
    return [ProfileRow(*r.values()) for r in records]
