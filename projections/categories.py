"""The `categories` read model (PostgreSQL): one row per live category, for the public list,
the category page and the posts context's check that a post's category exists.

A deleted category's row is removed; creating its slug again inserts a fresh row. The list
is ordered by `position`, then slug, and is read whole: categories are few and managed by
admins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.categories.events import CategoryChanged, CategoryCreated, CategoryDeleted

# The projection reads the categories context's events (its published contract), never its
# state.


class CategoryRow(msgspec.Struct, frozen=True):
    slug: str
    name_ru: str
    name_en: str
    #: None when the category has no description in that language.
    description_ru: str | None
    description_en: str | None
    position: int
    updated_at: datetime


class CategoriesProjection(PgProjection):
    name: ClassVar[str] = "categories"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(
        {CategoryCreated.name, CategoryChanged.name, CategoryDeleted.name}
    )
    ddl: ClassVar[str] = """
        CREATE TABLE categories (
            slug text PRIMARY KEY,
            name_ru text NOT NULL,
            name_en text NOT NULL,
            description_ru text NOT NULL,
            description_en text NOT NULL,
            position integer NOT NULL,
            updated_at timestamptz NOT NULL,
            seq bigint NOT NULL
        );
        CREATE INDEX categories_ordered ON categories (position, slug);
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        # Admins change categories now and then: one statement per event is plenty.
        for recorded in events:
            match recorded.event:
                case CategoryCreated() as e:
                    # A re-created slug replaces whatever a replay left (never a duplicate).
                    await conn.execute(
                        """INSERT INTO categories (slug, name_ru, name_en, description_ru,
                                                   description_en, position, updated_at, seq)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                           ON CONFLICT (slug) DO UPDATE SET
                               name_ru = excluded.name_ru, name_en = excluded.name_en,
                               description_ru = excluded.description_ru,
                               description_en = excluded.description_en,
                               position = excluded.position,
                               updated_at = excluded.updated_at, seq = excluded.seq""",
                        e.slug,
                        e.name_ru,
                        e.name_en,
                        e.description_ru,
                        e.description_en,
                        e.position,
                        e.created_at,
                        recorded.seq,
                    )
                case CategoryChanged() as e:
                    await conn.execute(
                        """UPDATE categories SET
                               name_ru = coalesce($2, name_ru),
                               name_en = coalesce($3, name_en),
                               description_ru = coalesce($4, description_ru),
                               description_en = coalesce($5, description_en),
                               position = coalesce($6, position),
                               updated_at = $7, seq = $8
                           WHERE slug = $1""",
                        e.slug,
                        e.name_ru,
                        e.name_en,
                        e.description_ru,
                        e.description_en,
                        e.position,
                        e.changed_at,
                        recorded.seq,
                    )
                case CategoryDeleted() as e:
                    await conn.execute("DELETE FROM categories WHERE slug = $1", e.slug)
                case _:
                    pass


# -- queries (the read side: plain SQL returning Structs) --------------------------------

_COLUMNS = (
    "slug, name_ru, name_en, nullif(description_ru, ''), nullif(description_en, ''), "
    "position, updated_at"
)


async def list_categories(conn: asyncpg.Connection | asyncpg.Pool) -> list[CategoryRow]:
    """Every live category, by position, then slug."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM categories.categories ORDER BY position, slug"
    )
    return [CategoryRow(*r.values()) for r in records]


async def get_category(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> CategoryRow | None:
    """The live category `slug`, or None (never created, or deleted)."""
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM categories.categories WHERE slug = $1", slug
    )
    return CategoryRow(*record.values()) if record else None


async def exists(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> bool:
    """Whether `slug` names a live category (a post's category is checked with this)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM categories.categories WHERE slug = $1)", slug
        )
    )
