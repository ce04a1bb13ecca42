"""The range of `GET /v1/admin/stats`: strict dates, defaults counted back from `to`, no
range upside down or longer than a leap year."""

from __future__ import annotations

from datetime import date

import pytest
from aiohttp.test_utils import make_mocked_request

from core.errors import ValidationError
from edge.routes.admin_stats import MAX_DAYS, stats_range

TODAY = date(2026, 11, 26)


def _range(query: str) -> tuple[date, date]:
    return stats_range(make_mocked_request("GET", f"/v1/admin/stats?{query}"), TODAY)


def test_without_dates_the_range_is_the_last_thirty_days_ending_today() -> None:
    assert _range("") == (date(2026, 10, 28), TODAY)


def test_a_to_alone_ends_the_thirty_days_and_a_from_alone_runs_to_today() -> None:
    assert _range("to=2026-03-01") == (date(2026, 1, 31), date(2026, 3, 1))
    assert _range("from=2026-11-20") == (date(2026, 11, 20), TODAY)


def test_one_day_and_a_whole_leap_year_are_ranges() -> None:
    assert _range("from=2026-11-26&to=2026-11-26") == (TODAY, TODAY)
    assert _range("from=2024-01-01&to=2024-12-31") == (date(2024, 1, 1), date(2024, 12, 31))


def test_the_first_days_a_date_can_hold_default_to_a_shorter_range() -> None:
    assert _range("to=0001-01-05") == (date(1, 1, 1), date(1, 1, 5))


@pytest.mark.parametrize(
    "query",
    [
        "from=20261126",
        "from=2026-W48-4",
        "from=2026-11-31",
        "from=2026-1-05",
        "from=\uff12\uff10\uff12\uff16-11-26",
        "from=2026-11-26T00:00:00Z",
        "from=",
        "to=0000-01-01",
        "to=2026-11-26%0A",
    ],
)
def test_anything_but_a_calendar_date_is_a_validation_error_naming_the_field(query: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _range(query)
    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors] == [query.partition("=")[0]]


def test_from_after_to_and_ranges_past_a_leap_year_are_refused() -> None:
    with pytest.raises(ValidationError, match="after"):
        _range("from=2026-11-27&to=2026-11-26")
    with pytest.raises(ValidationError, match=f"at most {MAX_DAYS} days"):
        _range("from=2025-11-25&to=2026-11-26")
    with pytest.raises(ValidationError, match=f"at most {MAX_DAYS} days"):
        _range("from=0001-01-01&to=9999-12-31")
