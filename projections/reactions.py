"""The `reactions` read model (PostgreSQL): who reacted with what to which target, and the
count per (target, kind) that post views show.

Counts are exact however often an event is applied. Reactions are a set per (person,
target): `ReactionAdded` sets a member, `ReactionRemoved` clears it, so applying any tail of
the log again leaves the rows as they were. The counters follow the rows, never the events:
a person's row is inserted with ON CONFLICT DO NOTHING and a count goes up only for a row
actually inserted, down only for a row actually deleted. An event delivered again (a
checkpoint that fell behind its rows, the event-by-event retry after a failed batch) finds
its row already there, or already gone, and changes no count.

`apply` folds a batch first: for each (target, person, kind) only the batch's last event
matters (each is an assignment), so a batch is one statement with array parameters however
many events it holds, plus one more to drop counters that reached zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.projection import PgProjection
from handlers.reactions.commands import KINDS, Kind
from handlers.reactions.events import ReactionAdded, ReactionRemoved

_APPLY = """
WITH added AS (
    INSERT INTO reactions (target_type, target_id, user_id, kind)
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[])
    ON CONFLICT DO NOTHING
    RETURNING target_type, target_id, kind
), removed AS (
    DELETE FROM reactions r
    USING unnest($5::text[], $6::uuid[], $7::uuid[], $8::text[]) AS d(target_type, target_id,
                                                                       user_id, kind)
    WHERE r.target_type = d.target_type AND r.target_id = d.target_id
      AND r.user_id = d.user_id AND r.kind = d.kind
    RETURNING r.target_type, r.target_id, r.kind
), delta AS (
    SELECT target_type, target_id, kind, sum(n)::integer AS n
    FROM (SELECT target_type, target_id, kind, 1 AS n FROM added
          UNION ALL
          SELECT target_type, target_id, kind, -1 FROM removed) AS changes
    GROUP BY target_type, target_id, kind
)
INSERT INTO reaction_counts (target_type, target_id, kind, count)
SELECT target_type, target_id, kind, n FROM delta WHERE n <> 0
ON CONFLICT (target_type, target_id, kind)
DO UPDATE SET count = reaction_counts.count + EXCLUDED.count
"""

#: A counter at zero is dropped, so a rebuilt read model holds the same rows as the live one
#: (a reaction added and removed within one replay batch never makes a counter).
_DROP_ZEROS = """
DELETE FROM reaction_counts c
USING unnest($1::text[], $2::uuid[], $3::text[]) AS d(target_type, target_id, kind)
WHERE c.target_type = d.target_type AND c.target_id = d.target_id AND c.kind = d.kind
  AND c.count = 0
"""

#: Counts per kind as views show them: a kind nobody used is absent (never 0).
Counts = Annotated[
    dict[Kind, int],
    msgspec.Meta(extra_json_schema={"propertyNames": {"enum": list(KINDS)}}),
]

Key = tuple[str, str, str, str]  # (target_type, target_id, user_id, kind)


def _columns(keys: list[Key], width: int = 4) -> list[list[str]]:
    return [[k[i] for k in keys] for i in range(width)] if keys else [[] for _ in range(width)]


class ReactionsProjection(PgProjection):
    name: ClassVar[str] = "reactions"
    version: ClassVar[int] = 1
    consumes: ClassVar[frozenset[str]] = frozenset({ReactionAdded.name, ReactionRemoved.name})
    ddl: ClassVar[str] = """
        CREATE TABLE reactions (
            target_type text NOT NULL,
            target_id uuid NOT NULL,
            user_id uuid NOT NULL,
            kind text NOT NULL,
            PRIMARY KEY (target_type, target_id, user_id, kind)
        );
        CREATE TABLE reaction_counts (
            target_type text NOT NULL,
            target_id uuid NOT NULL,
            kind text NOT NULL,
            count integer NOT NULL,
            PRIMARY KEY (target_type, target_id, kind)
        );
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        present: dict[Key, bool] = {}
        for recorded in events:
            match recorded.event:
                case ReactionAdded() as e:
                    present[(e.target_type, e.target_id, e.user_id, e.kind)] = True
                case ReactionRemoved() as e:
                    present[(e.target_type, e.target_id, e.user_id, e.kind)] = False
                case _:
                    pass
        if not present:
            return
        added = [k for k, there in present.items() if there]
        removed = [k for k, there in present.items() if not there]
        await conn.execute(_APPLY, *_columns(added), *_columns(removed))
        if removed:
            counters = list({(k[0], k[1], k[3]) for k in removed})
            await conn.execute(_DROP_ZEROS, *_columns(counters, 3))  # type: ignore[arg-type]


# -- queries (the read side: plain SQL, one query for a whole page of targets) -------------

_ORDER = {kind: i for i, kind in enumerate(KINDS)}


async def counts_for(
    conn: asyncpg.Connection | asyncpg.Pool, target_type: str, ids: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Reaction counts of each target in `ids`, in one query: `{id: {kind: n}}`, every id
    present (an empty mapping when nobody reacted), kinds in `KINDS` order, none at zero."""
    wanted = list(dict.fromkeys(ids))
    out: dict[str, dict[str, int]] = {i: {} for i in wanted}
    if not wanted:
        return out
    records = await conn.fetch(
        """SELECT target_id::text, kind, count FROM reactions.reaction_counts
           WHERE target_type = $1 AND target_id = ANY($2::uuid[]) AND count > 0""",
        target_type,
        wanted,
    )
    for target_id, kind, count in sorted(records, key=lambda r: _ORDER.get(r[1], len(KINDS))):
        out[target_id][kind] = count
    return out


async def mine_for(
    conn: asyncpg.Connection | asyncpg.Pool, target_type: str, ids: Iterable[str], user_id: str
) -> dict[str, set[str]]:
    """The kinds `user_id` has on each target in `ids`, in one query; every id present."""
    wanted = list(dict.fromkeys(ids))
    out: dict[str, set[str]] = {i: set() for i in wanted}
    if not wanted:
        return out
    records = await conn.fetch(
        """SELECT target_id::text, kind FROM reactions.reactions
           WHERE target_type = $1 AND target_id = ANY($2::uuid[]) AND user_id = $3::uuid""",
        target_type,
        wanted,
        user_id,
    )
    for target_id, kind in records:
        out[target_id].add(kind)
    return out


def ordered(kinds: Iterable[str]) -> list[str]:
    """Kinds in `KINDS` order (stable JSON for clients)."""
    return sorted(kinds, key=lambda k: _ORDER.get(k, len(KINDS)))
