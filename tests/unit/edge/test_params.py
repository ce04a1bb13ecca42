"""Numbers from query strings: ASCII digits within bounds, or a 422 naming the parameter."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from edge.params import INT64_MAX, IntQuery, parse_int


@pytest.mark.parametrize(
    "raw", ["²", "٣", "\uff11", "9" * 5000, str(INT64_MAX + 1), "-1", "+1", "", " 1", "1\n", "1.0"]
)
def test_anything_but_ascii_digits_within_bounds_is_a_validation_error_naming_the_field(
    raw: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_int(raw, "before", minimum=0, maximum=INT64_MAX)
    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors] == ["before"]


def test_the_bounds_are_inclusive_and_leading_zeros_are_the_same_number() -> None:
    assert parse_int("1", "limit", minimum=1, maximum=100) == 1
    assert parse_int("100", "limit", minimum=1, maximum=100) == 100
    assert parse_int("007", "limit", minimum=1, maximum=100) == 7
    assert parse_int(str(INT64_MAX), "before", minimum=1, maximum=INT64_MAX) == INT64_MAX
    for outside in ("0", "101"):
        with pytest.raises(ValidationError, match="from 1 to 100"):
            parse_int(outside, "limit", minimum=1, maximum=100)


def test_a_declared_parameter_publishes_the_bounds_it_enforces() -> None:
    limit = IntQuery("limit", "Page size", minimum=1, maximum=50, default=20)
    assert limit.param.name == "limit" and limit.param.where == "query"
    assert limit.param.schema == {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}
