"""The platform's figures per day for admins (`GET /v1/admin/stats`): sign-ups, active
people, posts, comments, messages, uploads and reports, read from the `stats` read model
(`projections/stats.py`), never from the log.

Every day of the range is answered, zeros included, so a client draws a chart without
filling gaps; the totals are the sums of the days, except `active_people`, which counts
different people over the whole range (a person active every day of a month is one).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from edge.context import infra, wait_for_position
from edge.routing import Param, Route
from projections import stats as model

#: Who may read the figures (`core.permissions`): admins.
READ_STATS: Final = "stats.read"
#: Days in a range when none is asked for (today and the 29 before).
DEFAULT_DAYS: Final = 30
#: The longest range one request may ask for, in days (a leap year).
MAX_DAYS: Final = 366
#: Exactly `YYYY-MM-DD` in ASCII digits: `date.fromisoformat` alone also takes `20261126`,
#: week dates (`2026-W48-4`) and Unicode digits.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_encoder = msgspec.json.Encoder()


class DayStats(msgspec.Struct):
    """One UTC day's figures (`totals` uses the same shape without `day`)."""

    day: date
    sign_ups: int
    active_people: int
    posts: int
    comments: int
    messages: int
    uploads: int
    reports: int


class StatsTotals(msgspec.Struct):
    sign_ups: int
    #: Different people active at least once in the range (not the sum of the days).
    active_people: int
    posts: int
    comments: int
    messages: int
    uploads: int
    reports: int


class StatsPage(msgspec.Struct):
    #: The range answered, inclusive, in UTC days.
    from_: date = msgspec.field(name="from")
    to: date
    #: Every day of the range, oldest first.
    days: list[DayStats]
    totals: StatsTotals


def _day(request: web.Request, name: str) -> date | None:
    """The query's `name` as a date, None when absent; 422 naming it otherwise."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        if _DATE.fullmatch(raw) is None:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            f"{name} must be a date such as 2026-11-26",
            errors=[FieldError(name, "a date, YYYY-MM-DD")],
        ) from None


def stats_range(request: web.Request, today: date) -> tuple[date, date]:
    """The inclusive range asked for: `to` defaults to `today` (UTC) and `from` to 29 days
    before `to`.

    Raises:
        ValidationError: 422 for a malformed date, `from` after `to`, or more than
            `MAX_DAYS` days.
    """
    first, last = _day(request, "from"), _day(request, "to")
    last = last or today
    if first is None:
        # Year 1 is the first a date can hold: a `to` in its first month starts the range there.
        first = last - min(timedelta(days=DEFAULT_DAYS - 1), last - date.min)
    if first > last:
        raise ValidationError(
            "from must not be after to", errors=[FieldError("from", "on or before `to`")]
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError(
            f"at most {MAX_DAYS} days at once",
            errors=[FieldError("from", f"at most {MAX_DAYS} days before `to`")],
        )
    return first, last


async def read_stats(request: web.Request) -> web.Response:
    first, last = stats_range(request, datetime.now(UTC).date())
    await wait_for_position(request, model.StatsProjection.name)
    pool = infra(request).pool
    counts = await model.daily_counts(pool, first, last)
    days = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        days.append(DayStats(day=day, **{m: counts.get((day, m), 0) for m in model.METRICS}))
    sums = {m: sum(getattr(d, m) for d in days) for m in model.METRICS}
    sums[model.ACTIVE_PEOPLE] = await model.distinct_active(pool, first, last)
    totals = StatsTotals(**sums)
    return web.Response(
        status=200,
        body=_encoder.encode(StatsPage(first, last, days, totals)),
        content_type="application/json",
    )


_DATE_SCHEMA = {"type": "string", "format": "date"}

ROUTES: list[Route] = [
    Route("GET", "/v1/admin/stats", read_stats,
          "The platform's figures per UTC day, zeros included, with totals (admins)", "admin",
          response=StatsPage, auth="bearer", after=True,
          params=(Param("from", "query", "First day, inclusive (default: 29 days before `to`)",
                        _DATE_SCHEMA),
                  Param("to", "query", "Last day, inclusive (default: today, UTC); at most "
                        f"{MAX_DAYS} days from `from`", _DATE_SCHEMA)),
          permission=READ_STATS),
]  # fmt: skip
