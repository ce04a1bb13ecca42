"""The `word_filters` read model (PostgreSQL): the server-wide word filter's live rules, for
the admins' list and for the edge, which compiles them per context (`edge.wordfilter`).

A removed rule's row is deleted. `revision` holds the position of the last rule event
applied, so an edge learns whether anything changed with one single-row read and compiles
again only then. The list is ordered by when a rule was added (its first commit), then id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.moderation.events import WordFilterAdded, WordFilterChanged, WordFilterRemoved

# The projection reads the moderation context's events (its published contract), never its
# state.

Conn = asyncpg.Connection | asyncpg.Pool


class WordFilterRow(msgspec.Struct, frozen=True):
    id: str
    pattern: str
    whole_word: bool
    action: str
    contexts: list[str]
    note: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    #: The position of the rule's first commit (the list's order and its cursors).
    added_seq: int


class WordFiltersProjection(PgProjection):
    name: ClassVar[str] = "word_filters"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset(
        {WordFilterAdded.name, WordFilterChanged.name, WordFilterRemoved.name}
    )
    ddl: ClassVar[str] = """
        CREATE TABLE word_filters (
            id uuid PRIMARY KEY,
            pattern text NOT NULL,
            whole_word boolean NOT NULL,
            action text NOT NULL,
            contexts text[] NOT NULL,
            note text,
            created_at timestamptz NOT NULL,
            created_by text NOT NULL,
            updated_at timestamptz NOT NULL,
            updated_by text NOT NULL,
            added_seq bigint NOT NULL,
            seq bigint NOT NULL
        );
        CREATE INDEX word_filters_listed ON word_filters (added_seq, id);
        -- One row: the position of the last rule event applied (0: none yet).
        CREATE TABLE revision (
            one boolean PRIMARY KEY DEFAULT true CHECK (one),
            seq bigint NOT NULL
        );
        INSERT INTO revision VALUES (true, 0);
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        # Admins change rules now and then: one statement per event is plenty.
        last = 0
        for recorded in events:
            match recorded.event:
                case WordFilterAdded() as e:
                    await conn.execute(
                        """INSERT INTO word_filters (id, pattern, whole_word, action, contexts,
                                                     note, created_at, created_by, updated_at,
                                                     updated_by, added_seq, seq)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8, $9, $9)
                           ON CONFLICT (id) DO NOTHING""",
                        e.rule_id,
                        e.pattern,
                        e.whole_word,
                        e.action,
                        e.contexts,
                        e.note,
                        e.at,
                        e.by,
                        recorded.seq,
                    )
                case WordFilterChanged() as e:
                    await conn.execute(
                        """UPDATE word_filters SET
                               pattern = coalesce($2, pattern),
                               whole_word = coalesce($3, whole_word),
                               action = coalesce($4, action),
                               contexts = coalesce($5, contexts),
                               note = CASE WHEN $6::text IS NULL THEN note
                                           ELSE nullif($6::text, '') END,
                               updated_at = $7, updated_by = $8, seq = $9
                           WHERE id = $1 AND seq < $9""",
                        e.rule_id,
                        e.pattern,
                        e.whole_word,
                        e.action,
                        e.contexts,
                        e.note,
                        e.at,
                        e.by,
                        recorded.seq,
                    )
                case WordFilterRemoved() as e:
                    await conn.execute("DELETE FROM word_filters WHERE id = $1", e.rule_id)
                case _:
                    continue
            last = recorded.seq
        if last:
            await conn.execute("UPDATE revision SET seq = greatest(seq, $1)", last)


# -- queries (the read side: plain SQL returning Structs) --------------------------------

_COLUMNS = """id::text, pattern, whole_word, action, contexts, note, created_at, created_by,
    updated_at, updated_by, added_seq"""


async def list_rules(
    conn: Conn, *, after: tuple[int, str] | None = None, limit: int | None = None
) -> list[WordFilterRow]:
    """Live rules in the order they were added, after the (added_seq, id) `after`; every
    rule when `limit` is None (what the edge compiles)."""
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM word_filters.word_filters
            WHERE $1::bigint IS NULL OR (added_seq, id) > ($1::bigint, $2::uuid)
            ORDER BY added_seq, id LIMIT $3""",
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [WordFilterRow(*r.values()) for r in records]


async def get_rule(conn: Conn, rule_id: str) -> WordFilterRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM word_filters.word_filters WHERE id = $1::uuid", rule_id
    )
    return WordFilterRow(*record.values()) if record else None


async def revision(conn: Conn) -> int:
    """The position of the last rule event applied: a new one means the rules changed."""
    return int(await conn.fetchval("SELECT seq FROM word_filters.revision"))
