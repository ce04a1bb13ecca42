"""The `link_previews` read model (PostgreSQL): the latest preview of each link, for
`GET /v1/link-previews?url=`.

Its events are appended by a module in Node.js (`modules/link-preview`); the read model
reads them like any other context's, through the registry (`handlers/links/events.py` is the
contract). One row per normalised URL; a later preview replaces it. The row keeps the
sequence of the commit it came from, and an older commit never overwrites a newer one, so
applying any tail of the log again leaves the rows as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.links.events import LinkPreviewed


class LinkPreview(msgspec.Struct, frozen=True):
    """What a page says about itself (the latest preview of a link); a field the page does
    not give is null. Also the answer of `GET /v1/link-previews`."""

    #: The link, normalised.
    url: str
    #: Where the page was after redirects.
    final_url: str
    title: str | None
    description: str | None
    site_name: str | None
    #: The page's preview image (never fetched by the platform: clients load it, or not).
    image: str | None
    fetched_at: datetime


class LinkPreviewsProjection(PgProjection):
    name: ClassVar[str] = "link_previews"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset({LinkPreviewed.name})
    ddl: ClassVar[str] = """
        CREATE TABLE link_previews (
            url text PRIMARY KEY,
            aggregate_id uuid NOT NULL,
            final_url text NOT NULL,
            title text,
            description text,
            site_name text,
            image text,
            fetched_at timestamptz NOT NULL,
            seq bigint NOT NULL
        );
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            match recorded.event:
                case LinkPreviewed() as e:
                    await conn.execute(
                        """INSERT INTO link_previews (url, aggregate_id, final_url, title,
                                                      description, site_name, image,
                                                      fetched_at, seq)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                           ON CONFLICT (url) DO UPDATE SET
                               aggregate_id = excluded.aggregate_id,
                               final_url = excluded.final_url, title = excluded.title,
                               description = excluded.description,
                               site_name = excluded.site_name, image = excluded.image,
                               fetched_at = excluded.fetched_at, seq = excluded.seq
                           WHERE link_previews.seq < excluded.seq""",
                        e.url,
                        recorded.envelope.aggregate.id,
                        e.final_url,
                        e.title,
                        e.description,
                        e.site_name,
                        e.image,
                        e.fetched_at,
                        recorded.seq,
                    )
                case _:
                    pass


# -- queries (the read side: plain SQL returning Structs) --------------------------------


async def get_preview(conn: asyncpg.Connection | asyncpg.Pool, url: str) -> LinkPreview | None:
    """The latest preview of `url` (normalised), or None when there is none yet."""
    record = await conn.fetchrow(
        """SELECT url, final_url, title, description, site_name, image, fetched_at
           FROM link_previews.link_previews WHERE url = $1""",
        url,
    )
    return LinkPreview(*record.values()) if record else None
