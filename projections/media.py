"""The `media` read model (PostgreSQL): one row per upload — what `GET /v1/media/{id}`
shows, who may read an object (`/media/{key}`), each person's storage in use, and what the
sweeper deletes (unattached for too long) and purges (deleted, bytes shared by nobody).

Uploads are few next to reads, so `apply` writes event by event; every statement is
idempotent (a redelivered batch changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.media.events import (
    EVENTS,
    MediaAttached,
    MediaDeleted,
    MediaDescribed,
    MediaDetached,
    MediaModerated,
    MediaProcessed,
    MediaPurged,
    MediaReceived,
    MediaRejected,
    UploadReserved,
    Variant,
)

_variants = msgspec.json.Encoder()
_variants_decoder = msgspec.json.Decoder(dict[str, Variant])


class MediaRow(msgspec.Struct, frozen=True):
    id: str
    owner_id: str
    status: str
    media_type: str | None
    sha256: str | None
    size: int | None
    width: int | None
    height: int | None
    blurhash: str | None
    description: str | None
    variants: dict[str, Variant]
    reason: str | None
    reason_code: str | None
    attachments: list[str]
    public: bool
    created_at: datetime
    expires_at: datetime | None
    deleted_at: datetime | None
    position: int
    #: `visible`, `hidden` or `removed` (by moderators): shown to its owner only unless visible.
    moderation: str = "visible"


class MediaProjection(PgProjection):
    name: ClassVar[str] = "media"
    #: 3: moderation (a hidden upload makes nothing public).
    version: ClassVar[int] = 3
    #: Every media event: the read model follows an upload through its whole life.
    consumes: ClassVar[frozenset[str]] = frozenset(e.name for e in EVENTS)
    ddl: ClassVar[str] = """
        CREATE TABLE media (
            id uuid PRIMARY KEY,
            owner_id text NOT NULL,
            status text NOT NULL,
            media_type text,
            sha256 text,
            size bigint,
            width int,
            height int,
            blurhash text,
            description text,
            variants jsonb NOT NULL DEFAULT '{}',
            reason text,
            reason_code text,
            -- ref -> public: what the media is attached to.
            attachments jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL,
            expires_at timestamptz,
            deleted_at timestamptz,
            deleted_reason text,
            purged boolean NOT NULL DEFAULT false,
            position bigint NOT NULL,
            moderation text NOT NULL DEFAULT 'visible'
        );
        CREATE INDEX media_owner ON media (owner_id) WHERE deleted_at IS NULL;
        CREATE INDEX media_sha ON media (sha256);
        CREATE INDEX media_unattached ON media (created_at)
            WHERE deleted_at IS NULL AND attachments = '{}';
        CREATE INDEX media_to_purge ON media (deleted_at) WHERE deleted_at IS NOT NULL AND NOT purged;
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            await self._apply_one(conn, recorded.event, recorded.seq)

    async def _apply_one(self, conn: asyncpg.Connection, e: Any, seq: int) -> None:
        match e:
            case UploadReserved():
                await conn.execute(
                    """INSERT INTO media (id, owner_id, status, created_at, expires_at, size,
                                          media_type, position)
                       VALUES ($1, $2, 'reserved', $3, $4, $5, $6, $7)
                       ON CONFLICT (id) DO NOTHING""",
                    e.media_id,
                    e.owner_id,
                    e.reserved_at,
                    e.expires_at,
                    e.size,
                    e.declared_type,
                    seq,
                )
            case MediaReceived():
                await conn.execute(
                    """INSERT INTO media (id, owner_id, status, created_at, sha256, size,
                                          media_type, description, position)
                       VALUES ($1, $2, 'processing', $3, $4, $5, $6, $7, $8)
                       ON CONFLICT (id) DO UPDATE SET status = 'processing',
                           sha256 = excluded.sha256, size = excluded.size,
                           media_type = excluded.media_type, description = excluded.description,
                           expires_at = NULL, position = excluded.position
                       WHERE media.position < excluded.position""",
                    e.media_id,
                    e.owner_id,
                    e.received_at,
                    e.sha256,
                    e.size,
                    e.media_type,
                    e.description,
                    seq,
                )
            case MediaProcessed():
                await self._update(
                    conn,
                    e.media_id,
                    seq,
                    "status = 'ready', media_type = $3, width = $4, height = $5, blurhash = $6,"
                    " variants = $7::jsonb",
                    e.media_type,
                    e.width,
                    e.height,
                    e.blurhash,
                    _variants.encode(e.variants).decode(),
                )
            case MediaRejected():
                await self._update(
                    conn,
                    e.media_id,
                    seq,
                    "status = 'failed', reason = $3, reason_code = $4",
                    e.reason,
                    e.code,
                )
            case MediaDescribed():
                await self._update(conn, e.media_id, seq, "description = $3", e.description)
            case MediaAttached():
                await self._update(
                    conn,
                    e.media_id,
                    seq,
                    "attachments = attachments || jsonb_build_object($3::text, $4::boolean)",
                    e.ref,
                    e.public,
                )
            case MediaDetached():
                await self._update(
                    conn, e.media_id, seq, "attachments = attachments - $3::text", e.ref
                )
            case MediaDeleted():
                await self._update(
                    conn,
                    e.media_id,
                    seq,
                    "status = 'deleted', deleted_at = $3, deleted_reason = $4,"
                    " attachments = '{}', description = NULL",
                    e.deleted_at,
                    e.reason,
                )
            case MediaPurged():
                await self._update(conn, e.media_id, seq, "purged = true")
            case MediaModerated():
                await self._update(conn, e.media_id, seq, "moderation = $3", e.state)
            case _:
                pass

    @staticmethod
    async def _update(
        conn: asyncpg.Connection, media_id: str, seq: int, sets: str, *args: Any
    ) -> None:
        # `position < seq`: a redelivered event is applied once.
        await conn.execute(
            f"UPDATE media SET {sets}, position = $2 WHERE id = $1 AND position < $2",
            media_id,
            seq,
            *args,
        )


# -- queries -----------------------------------------------------------------------------

_COLUMNS = """id::text, owner_id, status, media_type, sha256, size, width, height, blurhash,
    description, variants::text, reason, reason_code, attachments::text, created_at, expires_at,
    deleted_at, position, moderation"""


def _row(r: asyncpg.Record) -> MediaRow:
    attachments: dict[str, bool] = msgspec.json.decode(r["attachments"])
    return MediaRow(
        id=r["id"],
        owner_id=r["owner_id"],
        status=r["status"],
        media_type=r["media_type"],
        sha256=r["sha256"],
        size=r["size"],
        width=r["width"],
        height=r["height"],
        blurhash=r["blurhash"],
        description=r["description"],
        variants=_variants_decoder.decode(r["variants"]),
        reason=r["reason"],
        reason_code=r["reason_code"],
        attachments=sorted(attachments),
        public=r["moderation"] == "visible" and any(attachments.values()),
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        deleted_at=r["deleted_at"],
        position=r["position"],
        moderation=r["moderation"],
    )


Conn = asyncpg.Connection | asyncpg.Pool


async def get_media(conn: Conn, media_id: str) -> MediaRow | None:
    r = await conn.fetchrow(f"SELECT {_COLUMNS} FROM media.media WHERE id = $1::uuid", media_id)
    return _row(r) if r else None


async def get_many(conn: Conn, media_ids: list[str]) -> list[MediaRow]:
    if not media_ids:
        return []
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM media.media WHERE id = ANY($1::uuid[])", media_ids
    )
    return [_row(r) for r in rows]


async def storage_used(conn: Conn, owner_id: str) -> int:
    """Bytes of a person's live uploads (and reservations), as uploaded."""
    value = await conn.fetchval(
        "SELECT coalesce(sum(size), 0) FROM media.media WHERE owner_id = $1 AND deleted_at IS NULL"
        " AND status <> 'failed'",
        owner_id,
    )
    return int(value)


class ContentAccess(msgspec.Struct, frozen=True):
    """Who may read the objects made from one upload's bytes (shared by identical
    uploads): anyone when one of them that moderators left visible is attached to something
    public, else its owners."""

    exists: bool
    public: bool
    owners: frozenset[str]


async def content_access(conn: Conn, sha256: str) -> ContentAccess:
    r = await conn.fetchrow(
        """SELECT count(*) AS n,
                  coalesce(bool_or(moderation = 'visible' AND EXISTS (
                               SELECT 1 FROM jsonb_each(attachments) a
                               WHERE a.value = 'true'::jsonb)), false) AS public,
                  coalesce(array_agg(owner_id), '{}') AS owners
           FROM media.media
           WHERE sha256 = $1 AND deleted_at IS NULL AND status = 'ready'""",
        sha256,
    )
    return ContentAccess(bool(r["n"]), bool(r["public"]), frozenset(r["owners"]))


async def media_of_owner(conn: Conn, owner_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT id::text FROM media.media WHERE owner_id = $1 AND deleted_at IS NULL", owner_id
    )
    return [r["id"] for r in rows]


async def attached_to(conn: Conn, ref: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT id::text FROM media.media WHERE attachments ? $1 AND deleted_at IS NULL", ref
    )
    return [r["id"] for r in rows]


async def unattached_before(
    conn: Conn, cutoff: datetime, now: datetime, limit: int
) -> list[tuple[str, str]]:
    """(id, status) of live uploads created before `cutoff` and attached to nothing, and of
    direct uploads whose link expired before `now` without the object arriving."""
    rows = await conn.fetch(
        """SELECT id::text, status FROM media.media
           WHERE deleted_at IS NULL AND attachments = '{}'
             AND (created_at < $1 OR (status = 'reserved' AND expires_at < $2))
           ORDER BY created_at LIMIT $3""",
        cutoff,
        now,
        limit,
    )
    return [(r["id"], r["status"]) for r in rows]


class Purgeable(msgspec.Struct, frozen=True):
    id: str
    sha256: str | None
    #: Whether another live upload still uses the same bytes (then only this upload's
    #: temporary object goes).
    shared: bool


async def purgeable(conn: Conn, deleted_before: datetime, limit: int) -> list[Purgeable]:
    rows = await conn.fetch(
        """SELECT m.id::text, m.sha256,
                  EXISTS (SELECT 1 FROM media.media o WHERE o.sha256 = m.sha256
                          AND o.deleted_at IS NULL) AS shared
           FROM media.media m
           WHERE m.deleted_at IS NOT NULL AND NOT m.purged
             AND (m.deleted_at < $1 OR m.deleted_reason = 'erased')
           ORDER BY m.deleted_at LIMIT $2""",
        deleted_before,
        limit,
    )
    return [Purgeable(r["id"], r["sha256"], bool(r["shared"])) for r in rows]


async def shared_with_others(conn: Conn, sha256: str, owner_id: str) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM media.media WHERE sha256 = $1 AND owner_id <> $2
                              AND deleted_at IS NULL)""",
            sha256,
            owner_id,
        )
    )


async def checkpoint(conn: Conn, stream: str) -> int:
    """The active build's position in `stream` (how far this read model has read)."""
    value = await conn.fetchval(
        """SELECT c.position FROM quark.checkpoints c
           JOIN quark.projections p ON p.name = c.projection AND p.active_build = c.build
           WHERE p.name = 'media' AND c.stream = $1""",
        stream,
    )
    return int(value or 0)
