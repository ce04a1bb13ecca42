"""The `stats` read model (PostgreSQL): the platform's figures per day, for admins —
sign-ups, active people, posts, comments, messages, uploads and reports.

Per hour too, for sign-ups, posts and messages (`hourly_counts`): the hub's dashboard draws
the last two days by the hour.

Why per-day counters: an admin asks for up to a year of days, and the answer must cost a
few hundred rows, not a scan of the log or of every post and message. So each creation
event adds one to `daily_counts(day, metric)`, and a range is read straight from it.

What counts, and from which event (one event per created thing, so nothing counts twice):

- `sign_ups`: `accounts.AccountRegistered`;
- `posts`: `posts.PostPublished`; `comments`: `posts.CommentAdded`;
- `messages`: `chat.MessageSent`;
- `uploads`: `media.MediaReceived` — the bytes arrived, once per upload (a reservation
  whose bytes never came is not an upload; processing or rejection adds nothing);
- `reports`: `moderation.ReportFiled` (a repeat while the report is open is
  `ReportUpdated`: the same report, not a new one);
- `active_people`: distinct people who did something that day — signed up, signed in or
  refreshed a session, posted, commented, sent a message, reacted, uploaded, reported.
  `active_people(day, user_id)` holds who; the day's counter goes up only for a row
  actually inserted, so a person counts once a day however much they do.

Creations count on the day they happened: a post published and deleted the same day (or
later, or hidden by a moderator) still counts as a post published that day, and an erased
person's sign-up stays counted. The figures say what happened, not what is visible now.

Days are UTC dates of the events' own times (`published_at`, `sent_at`, …), never the
clock of the worker applying them, so a replay yields the same rows.

Applied again, nothing counts twice. The kernel already skips events at or below the
checkpoint it commits with each batch, but counters, unlike sets of rows, would double if
events ever came again (a checkpoint that fell behind its rows): so the read model keeps
its own position per stream, `applied(stream, seq)`, in the same transaction as the
counters it moved, and `apply` ignores what is at or below it. Every sum and set here is
order-independent, so the interleaving of the five streams — live, or one stream after
another in a replay — changes nothing either.

Erasure: `active_people` holds opaque ids and days only, no personal value (as every read
model keeps author ids); it is not pruned when a person is erased, because removing rows
would make the counts depend on the order in which streams are replayed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Final

import asyncpg

from core.envelope import RecordedEvent
from core.ids import is_uuid
from core.projection import PgProjection
from handlers.accounts import events as accounts
from handlers.chat import events as chat
from handlers.media import events as media
from handlers.moderation import events as moderation
from handlers.posts import events as posts
from handlers.reactions import events as reactions

SIGN_UPS: Final = "sign_ups"
ACTIVE_PEOPLE: Final = "active_people"
POSTS: Final = "posts"
COMMENTS: Final = "comments"
MESSAGES: Final = "messages"
UPLOADS: Final = "uploads"
REPORTS: Final = "reports"
#: Every metric, in the order the API lists them.
METRICS: Final = (SIGN_UPS, ACTIVE_PEOPLE, POSTS, COMMENTS, MESSAGES, UPLOADS, REPORTS)

Conn = asyncpg.Connection | asyncpg.Pool


def utc_day(at: datetime) -> date:
    """The UTC date of an event's time (a time without offset is taken as UTC)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).date()


def utc_hour(at: datetime) -> datetime:
    """The UTC hour an event's time falls in."""
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def facts(event: Any) -> tuple[datetime, str | None, str | None] | None:
    """(when, the metric it creates or None, who acted or None) for a consumed event."""
    match event:
        case accounts.AccountRegistered():
            return event.registered_at, SIGN_UPS, event.user_id
        case accounts.SessionOpened():
            return event.opened_at, None, event.user_id
        case accounts.SessionRefreshed():
            return event.refreshed_at, None, event.user_id
        case posts.PostPublished():
            return event.published_at, POSTS, event.author_id
        case posts.CommentAdded():
            return event.added_at, COMMENTS, event.author_id
        case chat.MessageSent():
            return event.sent_at, MESSAGES, event.sender_id
        case reactions.ReactionAdded():
            return event.at, None, event.user_id
        case media.MediaReceived():
            return event.received_at, UPLOADS, event.owner_id
        case moderation.ReportFiled():
            return event.at, REPORTS, event.reporter_id
        case moderation.ReportUpdated():
            return event.at, None, event.reporter_id
        case _:
            return None


_CONSUMED = (
    accounts.AccountRegistered,
    accounts.SessionOpened,
    accounts.SessionRefreshed,
    posts.PostPublished,
    posts.CommentAdded,
    chat.MessageSent,
    reactions.ReactionAdded,
    media.MediaReceived,
    moderation.ReportFiled,
    moderation.ReportUpdated,
)

# Statement texts carry `/* stats */`: asyncpg caches prepared statements by their text per
# pooled connection, with their parameter types, and the same text under another read
# model's search_path would bring that model's types.

#: New (day, person) rows, in key order: live batches of different streams run side by
#: side, and taking row locks in one global order (these rows, then the counters, each
#: sorted) means two of them can wait for each other but never deadlock.
_ACTIVE = """
INSERT INTO active_people (day, user_id)
SELECT day, user_id FROM unnest($1::date[], $2::uuid[]) AS a(day, user_id)
ORDER BY day, user_id
ON CONFLICT DO NOTHING
RETURNING day /* stats */
"""

#: Per-hour counters of sign-ups, posts and messages (the hub's dashboard), same ordering.
_HOURLY = """
INSERT INTO hourly_counts (hour, metric, count)
SELECT hour, metric, n FROM unnest($1::timestamptz[], $2::text[], $3::bigint[])
    AS c(hour, metric, n)
ORDER BY hour, metric
ON CONFLICT (hour, metric) DO UPDATE SET count = hourly_counts.count + excluded.count
/* stats */
"""
#: The figures the hub draws per hour.
HOURLY_METRICS: Final = (SIGN_UPS, POSTS, MESSAGES)

_COUNT = """
INSERT INTO daily_counts (day, metric, count)
SELECT day, metric, n FROM unnest($1::date[], $2::text[], $3::bigint[]) AS c(day, metric, n)
ORDER BY day, metric
ON CONFLICT (day, metric) DO UPDATE SET count = daily_counts.count + excluded.count
/* stats */
"""


class StatsProjection(PgProjection):
    name: ClassVar[str] = "stats"
    version: ClassVar[int] = 2
    consumes: ClassVar[frozenset[str]] = frozenset(e.name for e in _CONSUMED)
    ddl: ClassVar[str] = """
        CREATE TABLE daily_counts (
            day date NOT NULL,
            metric text NOT NULL,
            count bigint NOT NULL,
            PRIMARY KEY (day, metric)
        );
        CREATE TABLE hourly_counts (
            hour timestamptz NOT NULL,
            metric text NOT NULL,
            count bigint NOT NULL,
            PRIMARY KEY (hour, metric)
        );
        CREATE TABLE active_people (
            day date NOT NULL,
            user_id uuid NOT NULL,
            PRIMARY KEY (day, user_id)
        );
        CREATE TABLE applied (
            stream text PRIMARY KEY,
            seq bigint NOT NULL
        );
    """

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        # Folded first: a batch of a thousand messages is four statements, not a thousand.
        fresh = await self._unapplied(conn, events)
        counts: Counter[tuple[date, str]] = Counter()
        hourly: Counter[tuple[datetime, str]] = Counter()
        people: set[tuple[date, str]] = set()
        for recorded in fresh:
            fact = facts(recorded.event)
            if fact is None:
                continue
            at, metric, who = fact
            day = utc_day(at)
            if metric is not None:
                counts[(day, metric)] += 1
                if metric in HOURLY_METRICS:
                    hourly[(utc_hour(at), metric)] += 1
            if who is not None and is_uuid(who):
                people.add((day, who))
        if people:
            ordered = sorted(people)
            inserted = await conn.fetch(_ACTIVE, [d for d, _ in ordered], [u for _, u in ordered])
            for row in inserted:
                counts[(row["day"], ACTIVE_PEOPLE)] += 1
        if hourly:
            hours = sorted(hourly)
            await conn.execute(
                _HOURLY, [h for h, _ in hours], [m for _, m in hours], [hourly[k] for k in hours]
            )
        if counts:
            keys = sorted(counts)
            await conn.execute(
                _COUNT, [d for d, _ in keys], [m for _, m in keys], [counts[k] for k in keys]
            )

    async def _unapplied(
        self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]
    ) -> list[RecordedEvent]:
        """The events past this read model's own position in their stream, which moves to
        the last of them (events of a stream arrive in log order, whole commits at once)."""
        fresh: list[RecordedEvent] = []
        for stream in sorted({e.stream for e in events}):
            done = await conn.fetchval(
                "SELECT seq FROM applied WHERE stream = $1 FOR UPDATE /* stats */", stream
            )
            mine = [e for e in events if e.stream == stream and e.seq > (done or 0)]
            if not mine:
                continue
            fresh += mine
            await conn.execute(
                """INSERT INTO applied (stream, seq) VALUES ($1, $2)
                   ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq /* stats */""",
                stream,
                max(e.seq for e in mine),
            )
        return fresh


# -- queries (the read side: plain SQL returning plain values) ----------------------------


async def daily_counts(conn: Conn, first: date, last: date) -> dict[tuple[date, str], int]:
    """Every counter from `first` to `last` inclusive, by (day, metric); days and metrics
    nothing happened on are absent (zero)."""
    records = await conn.fetch(
        "SELECT day, metric, count FROM stats.daily_counts WHERE day BETWEEN $1 AND $2",
        first,
        last,
    )
    return {(r["day"], r["metric"]): int(r["count"]) for r in records}


async def distinct_active(conn: Conn, first: date, last: date) -> int:
    """How many different people were active at least once from `first` to `last`
    inclusive (not the sum of the days: a person active every day counts once)."""
    value = await conn.fetchval(
        "SELECT count(DISTINCT user_id) FROM stats.active_people WHERE day BETWEEN $1 AND $2",
        first,
        last,
    )
    return int(value or 0)


async def hourly_counts(conn: Conn, since: datetime) -> dict[tuple[datetime, str], int]:
    """Sign-ups, posts and messages per hour from `since` on, by (hour, metric); hours
    nothing happened in are absent (zero)."""
    records = await conn.fetch(
        "SELECT hour, metric, count FROM stats.hourly_counts WHERE hour >= $1", since
    )
    return {(r["hour"], r["metric"]): int(r["count"]) for r in records}
