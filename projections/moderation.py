"""The `moderation` read model (PostgreSQL): the moderators' queue — one case per reported
target with its reports — and what each report captured.

A case's `categories` and `reporters` count only open reports (one per person: a repeat
updates it); the queue is read oldest first by when the case was opened, with keyset
cursors. Snapshots are kept as the report event carried them (`handlers.moderation`); what
the author did after a report is read from the log itself by the case view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from core.envelope import RecordedEvent
from core.moderation import SYSTEM
from core.projection import PgProjection
from handlers.moderation.events import (
    AppealDecided,
    AppealFiled,
    CaseAssigned,
    CaseAutoHidden,
    DecisionTaken,
    ReportFiled,
    ReportUpdated,
)

Conn = asyncpg.Connection | asyncpg.Pool


class CaseRow(msgspec.Struct, frozen=True):
    id: str
    target_type: str
    target_id: str
    author_id: str
    state: str
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    reporters: int
    categories: list[str]
    opened_seq: int
    #: Hidden pending review (the weighted score that did it), else None.
    auto_hidden_score: float | None = None
    #: Decisions that acted against the author (dismissals aside), in any case.
    author_decisions: int = 0


class ReportRow(msgspec.Struct, frozen=True):
    reporter_id: str
    category: str
    comment: str | None
    title: str | None
    body: str
    stream: str
    seq: int
    at: datetime
    updated_at: datetime


class ModerationProjection(PgProjection):
    name: ClassVar[str] = "moderation"
    #: 4: hiding pending review, suspensions, reporters' records and appeals.
    version: ClassVar[int] = 4
    consumes: ClassVar[frozenset[str]] = frozenset(
        e.name
        for e in (
            ReportFiled,
            ReportUpdated,
            CaseAssigned,
            DecisionTaken,
            CaseAutoHidden,
            AppealFiled,
            AppealDecided,
        )
    )
    ddl: ClassVar[str] = """
        CREATE TABLE cases (
            id uuid PRIMARY KEY,
            target_type text NOT NULL,
            target_id uuid NOT NULL,
            author_id text NOT NULL,
            state text NOT NULL,
            assignee text,
            opened_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            reporters int NOT NULL,
            categories text[] NOT NULL,
            opened_seq bigint NOT NULL,
            -- Hidden pending review since the last decision (its weighted score).
            auto_hidden_score double precision
        );
        CREATE INDEX cases_queue ON cases (state, opened_at, id);
        CREATE INDEX cases_author ON cases (author_id);
        CREATE TABLE reports (
            case_id uuid NOT NULL,
            reporter_id text NOT NULL,
            category text NOT NULL,
            comment text,
            title text,
            body text NOT NULL,
            stream text NOT NULL,
            seq bigint NOT NULL,
            at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            open boolean NOT NULL,
            PRIMARY KEY (case_id, reporter_id)
        );
        CREATE TABLE decisions (
            id uuid PRIMARY KEY,
            case_id uuid NOT NULL,
            target_type text NOT NULL,
            target_id uuid NOT NULL,
            author_id text NOT NULL,
            moderator_id text NOT NULL,
            actions text[] NOT NULL,
            reason text NOT NULL,
            rule text,
            reporters text[] NOT NULL,
            at timestamptz NOT NULL,
            seq bigint NOT NULL,
            suspend_until timestamptz
        );
        -- How moderators answered each person's reports (their weight as a reporter).
        CREATE TABLE reporter_records (
            reporter_id text PRIMARY KEY,
            upheld int NOT NULL,
            dismissed int NOT NULL
        );
        CREATE TABLE appeals (
            id uuid PRIMARY KEY,
            case_id uuid NOT NULL,
            decision_id uuid NOT NULL UNIQUE,
            author_id text NOT NULL,
            text text NOT NULL,
            state text NOT NULL,
            at timestamptz NOT NULL,
            decided_at timestamptz,
            decided_by text,
            reason text,
            decision_moderator text NOT NULL
        );
        CREATE INDEX appeals_queue ON appeals (state, at, id);
        CREATE INDEX decisions_case ON decisions (case_id, at);
        CREATE INDEX decisions_at ON decisions (at, id);
        CREATE INDEX decisions_author ON decisions (author_id, at, id);
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        # Reports are rare beside posts and messages: a statement or two per event.
        for recorded in events:
            await self._apply(conn, recorded.event, recorded.seq)

    async def _apply(self, conn: asyncpg.Connection, e: Any, seq: int) -> None:
        match e:
            case ReportFiled():
                s = e.snapshot
                await conn.execute(
                    """INSERT INTO reports (case_id, reporter_id, category, comment, title, body,
                                            stream, seq, at, updated_at, open)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, true)
                       ON CONFLICT (case_id, reporter_id) DO UPDATE SET
                           category = excluded.category, comment = excluded.comment,
                           title = excluded.title, body = excluded.body,
                           stream = excluded.stream, seq = excluded.seq, at = excluded.at,
                           updated_at = excluded.at, open = true""",
                    e.case_id,
                    e.reporter_id,
                    e.category,
                    e.comment,
                    s.title,
                    s.body,
                    s.stream,
                    s.seq,
                    e.at,
                )
                await conn.execute(
                    """INSERT INTO cases (id, target_type, target_id, author_id, state,
                                          opened_at, updated_at, reporters, categories,
                                          opened_seq)
                       VALUES ($1, $2, $3, $4, 'open', $5, $5, 0, '{}', $6)
                       ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at,
                           -- A report after a decision opens the case again, at the back of
                           -- the queue.
                           opened_at = CASE WHEN cases.state = 'open' THEN cases.opened_at
                                            ELSE excluded.opened_at END,
                           state = 'open'""",
                    e.case_id,
                    e.target_type,
                    e.target_id,
                    e.author_id,
                    e.at,
                    seq,
                )
                await _recount(conn, e.case_id)
            case ReportUpdated():
                await conn.execute(
                    """UPDATE reports SET category = $3, comment = $4, updated_at = $5
                       WHERE case_id = $1 AND reporter_id = $2""",
                    e.case_id,
                    e.reporter_id,
                    e.category,
                    e.comment,
                    e.at,
                )
                await conn.execute(
                    "UPDATE cases SET updated_at = $2 WHERE id = $1", e.case_id, e.at
                )
                await _recount(conn, e.case_id)
            case DecisionTaken():
                inserted = await conn.fetchval(
                    """INSERT INTO decisions (id, case_id, target_type, target_id, author_id,
                                              moderator_id, actions, reason, rule, reporters,
                                              at, seq, suspend_until)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                       ON CONFLICT (id) DO NOTHING RETURNING true""",
                    e.decision_id, e.case_id, e.target_type, e.target_id, e.author_id,
                    e.moderator_id, e.actions, e.reason, e.rule, e.reporters, e.at, seq,
                    e.suspend_until,
                )  # fmt: skip
                # The word filter's reports are no reporter's judgement: no record.
                people = [r for r in e.reporters if r != SYSTEM]
                if inserted and people:
                    dismissed = e.actions == ["dismiss"]
                    await conn.execute(
                        """INSERT INTO reporter_records AS r
                           SELECT unnest($1::text[]), $2::int, $3::int
                           ON CONFLICT (reporter_id) DO UPDATE SET
                               upheld = r.upheld + excluded.upheld,
                               dismissed = r.dismissed + excluded.dismissed""",
                        people, 0 if dismissed else 1, 1 if dismissed else 0,
                    )  # fmt: skip
                await conn.execute(
                    "UPDATE reports SET open = false WHERE case_id = $1 AND open", e.case_id
                )
                await conn.execute(
                    """UPDATE cases SET state = 'resolved', updated_at = $2,
                                        auto_hidden_score = NULL WHERE id = $1""",
                    e.case_id,
                    e.at,
                )
                await _recount(conn, e.case_id)
            case CaseAutoHidden():
                await conn.execute(
                    "UPDATE cases SET auto_hidden_score = $2, updated_at = $3 WHERE id = $1",
                    e.case_id,
                    e.score,
                    e.at,
                )
            case AppealFiled():
                await conn.execute(
                    """INSERT INTO appeals (id, case_id, decision_id, author_id, text, state, at,
                                            decision_moderator)
                       VALUES ($1, $2, $3, $4, $5, 'open', $6, $7) ON CONFLICT DO NOTHING""",
                    e.appeal_id, e.case_id, e.decision_id, e.author_id, e.text, e.at,
                    e.decided_by,
                )  # fmt: skip
            case AppealDecided():
                await conn.execute(
                    """UPDATE appeals SET state = $2, decided_at = $3, decided_by = $4,
                                          reason = $5 WHERE id = $1""",
                    e.appeal_id, "approved" if e.approved else "rejected", e.at,
                    e.moderator_id, e.reason,
                )  # fmt: skip
            case CaseAssigned():
                await conn.execute(
                    "UPDATE cases SET assignee = $2, updated_at = $3 WHERE id = $1",
                    e.case_id,
                    e.assignee,
                    e.at,
                )


async def _recount(conn: asyncpg.Connection, case_id: str) -> None:
    """Reporters and categories of the case's open reports (idempotent under replay)."""
    await conn.execute(
        """UPDATE cases c SET reporters = r.n, categories = r.categories
             FROM (SELECT count(*)::int AS n,
                          coalesce(array_agg(DISTINCT category ORDER BY category), '{}') AS categories
                     FROM reports WHERE case_id = $1 AND open) r
            WHERE c.id = $1""",
        case_id,
    )


_CASE = """c.id::text, c.target_type, c.target_id::text, c.author_id, c.state, c.assignee,
    c.opened_at, c.updated_at, c.reporters, c.categories, c.opened_seq, c.auto_hidden_score,
    (SELECT count(*)::int FROM moderation.decisions d
      WHERE d.author_id = c.author_id AND d.actions <> '{dismiss}') AS author_decisions"""


def _case(r: asyncpg.Record) -> CaseRow:
    values = dict(r)
    values["categories"] = list(values["categories"])
    return CaseRow(**values)


async def get_case(conn: Conn, case_id: str) -> CaseRow | None:
    r = await conn.fetchrow(
        f"SELECT {_CASE} FROM moderation.cases c WHERE c.id = $1::uuid", case_id
    )
    return _case(r) if r else None


async def queue(
    conn: Conn,
    *,
    state: str,
    category: str | None,
    target_type: str | None,
    assignee: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[CaseRow]:
    """Cases oldest first (by when they were opened), after the keyset `after`."""
    rows = await conn.fetch(
        f"""SELECT {_CASE} FROM moderation.cases c
             WHERE c.state = $1
               AND ($2::text IS NULL OR $2 = ANY(c.categories))
               AND ($3::text IS NULL OR c.target_type = $3)
               AND ($4::text IS NULL OR c.assignee = $4)
               AND ($5::timestamptz IS NULL OR (c.opened_at, c.id) > ($5, $6::uuid))
             ORDER BY c.opened_at, c.id
             LIMIT $7""",
        state,
        category,
        target_type,
        assignee,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_case(r) for r in rows]


async def reports(conn: Conn, case_id: str) -> list[ReportRow]:
    """The case's open reports, oldest first."""
    rows = await conn.fetch(
        """SELECT reporter_id, category, comment, title, body, stream, seq, at, updated_at
             FROM moderation.reports WHERE case_id = $1::uuid AND open ORDER BY at, reporter_id""",
        case_id,
    )
    return [ReportRow(*r.values()) for r in rows]


class DecisionRow(msgspec.Struct, frozen=True):
    id: str
    case_id: str
    target_type: str
    target_id: str
    author_id: str
    moderator_id: str
    actions: list[str]
    reason: str
    rule: str | None
    reporters: list[str]
    at: datetime
    suspend_until: datetime | None = None
    #: The author's appeal, if any: its id and state (open, approved, rejected).
    appeal_id: str | None = None
    appeal_state: str | None = None


_DECISION = """d.id::text, d.case_id::text, d.target_type, d.target_id::text, d.author_id,
    d.moderator_id, d.actions, d.reason, d.rule, d.reporters, d.at, d.suspend_until,
    (SELECT a.id::text FROM moderation.appeals a WHERE a.decision_id = d.id) AS appeal_id,
    (SELECT a.state FROM moderation.appeals a WHERE a.decision_id = d.id) AS appeal_state"""


def _decision(r: asyncpg.Record) -> DecisionRow:
    values = dict(r)
    values["actions"] = list(values["actions"])
    values["reporters"] = list(values["reporters"])
    return DecisionRow(**values)


async def decisions_of(conn: Conn, case_id: str) -> list[DecisionRow]:
    """A case's decisions, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_DECISION} FROM moderation.decisions d WHERE d.case_id = $1::uuid ORDER BY d.at, d.id",
        case_id,
    )
    return [_decision(r) for r in rows]


async def author_decisions(
    conn: Conn, author_id: str, *, before: tuple[datetime, str] | None = None, limit: int = 20
) -> list[DecisionRow]:
    """Decisions about an author's content, newest first (after the keyset `before`): what
    moderators see of their past, and what they see of their own."""
    rows = await conn.fetch(
        f"""SELECT {_DECISION} FROM moderation.decisions d
             WHERE d.author_id = $1
               AND ($2::timestamptz IS NULL OR (d.at, d.id) < ($2, $3::uuid))
             ORDER BY d.at DESC, d.id DESC LIMIT $4""",
        author_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_decision(r) for r in rows]


async def decision_log(
    conn: Conn,
    *,
    moderator: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[DecisionRow]:
    """Every decision, newest first, filtered by moderator, target and time."""
    rows = await conn.fetch(
        f"""SELECT {_DECISION} FROM moderation.decisions d
             WHERE ($1::text IS NULL OR d.moderator_id = $1)
               AND ($2::uuid IS NULL OR d.target_id = $2)
               AND ($3::timestamptz IS NULL OR d.at >= $3)
               AND ($4::timestamptz IS NULL OR d.at < $4)
               AND ($5::timestamptz IS NULL OR (d.at, d.id) < ($5, $6::uuid))
             ORDER BY d.at DESC, d.id DESC
             LIMIT $7""",
        moderator,
        target_id,
        since,
        until,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_decision(r) for r in rows]


async def reporter_record(conn: Conn, reporter_id: str) -> tuple[int, int]:
    """How many of a person's reports moderators upheld and dismissed."""
    r = await conn.fetchrow(
        "SELECT upheld, dismissed FROM moderation.reporter_records WHERE reporter_id = $1",
        reporter_id,
    )
    return (r["upheld"], r["dismissed"]) if r else (0, 0)


async def get_decision(conn: Conn, decision_id: str) -> DecisionRow | None:
    r = await conn.fetchrow(
        f"SELECT {_DECISION} FROM moderation.decisions d WHERE d.id = $1::uuid", decision_id
    )
    return _decision(r) if r else None


class AppealRow(msgspec.Struct, frozen=True):
    id: str
    case_id: str
    decision_id: str
    author_id: str
    text: str
    state: str
    at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    decision_moderator: str


_APPEAL = """a.id::text, a.case_id::text, a.decision_id::text, a.author_id, a.text, a.state,
    a.at, a.decided_at, a.decided_by, a.reason, a.decision_moderator"""


async def get_appeal(conn: Conn, appeal_id: str) -> AppealRow | None:
    r = await conn.fetchrow(
        f"SELECT {_APPEAL} FROM moderation.appeals a WHERE a.id = $1::uuid", appeal_id
    )
    return AppealRow(*r.values()) if r else None


async def appeals(
    conn: Conn, *, state: str, after: tuple[datetime, str] | None, limit: int
) -> list[AppealRow]:
    """Appeals in a state, oldest first (the moderators' second queue)."""
    rows = await conn.fetch(
        f"""SELECT {_APPEAL} FROM moderation.appeals a
             WHERE a.state = $1
               AND ($2::timestamptz IS NULL OR (a.at, a.id) > ($2, $3::uuid))
             ORDER BY a.at, a.id LIMIT $4""",
        state,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [AppealRow(*r.values()) for r in rows]
