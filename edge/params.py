"""Numbers and text in query strings, parsed once for every route.

`str.isdigit()` is not a number check: it accepts superscripts (`²`) and other Unicode
digits that `int()` then refuses (500), and nothing bounds the length, so a 5,000-digit value
reached `int()` (refused past 4,300 digits: 500) or PostgreSQL (int64 overflow: 500). Here a
number is 1 to 19 ASCII digits within the route's bounds; anything else is 422 naming the
parameter, and the bounds are the ones `/openapi.json` publishes (`IntQuery`).

Text in a query string is refused with 422 when it holds control characters (`core.text`):
a NUL reached PostgreSQL in a search and came back as a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, overload

from aiohttp import web

from core.errors import FieldError, ValidationError
from core.text import has_control_characters
from edge.routing import Param

#: Up to 19 digits: every value fits PostgreSQL's bigint once the bounds are checked.
_DIGITS = re.compile(r"[0-9]{1,19}")
#: The largest PostgreSQL bigint (and JetStream sequence the API exposes).
INT64_MAX = 2**63 - 1


def parse_int(raw: str, name: str, *, minimum: int, maximum: int) -> int:
    """`raw` as an integer within [minimum, maximum].

    Raises:
        ValidationError: 422 naming `name`, for anything but ASCII digits within the bounds.
    """
    # fullmatch, not match: `re`'s `$` would accept a trailing newline.
    if _DIGITS.fullmatch(raw) is None or not minimum <= int(raw) <= maximum:
        raise ValidationError(
            f"{name} must be an integer from {minimum} to {maximum}",
            errors=[FieldError(name, f"an integer from {minimum} to {maximum}")],
        )
    return int(raw)


@overload
def query_int(
    request: web.Request, name: str, *, default: int, minimum: int, maximum: int
) -> int: ...
@overload
def query_int(
    request: web.Request, name: str, *, default: None, minimum: int, maximum: int
) -> int | None: ...
def query_int(
    request: web.Request, name: str, *, default: int | None, minimum: int, maximum: int
) -> int | None:
    """The query parameter `name` as an integer within bounds, or `default` when absent.

    Present but empty (`?limit=`) is not absent: it is refused like any other non-number.
    """
    raw = request.query.get(name)
    if raw is None:
        return default
    return parse_int(raw, name, minimum=minimum, maximum=maximum)


def query_text(request: web.Request, name: str, *, max_length: int) -> str | None:
    """The query parameter `name`, trimmed, or None when absent.

    Raises:
        ValidationError: 422 naming `name`, for control characters or more than `max_length`
            characters.
    """
    raw = request.query.get(name)
    if raw is None:
        return None
    value = raw.strip()
    if len(value) > max_length or has_control_characters(value):
        raise ValidationError(
            f"{name} must be at most {max_length} characters of plain text",
            errors=[FieldError(name, f"at most {max_length} characters, no control characters")],
        )
    return value


@dataclass(frozen=True)
class IntQuery:
    """A numeric query parameter declared once: the route table publishes `param`, the
    handler reads it with `read` (or `read_optional`), both with the same bounds."""

    name: str
    description: str
    minimum: int
    maximum: int
    default: int | None = None

    @property
    def param(self) -> Param:
        schema: dict[str, Any] = {
            "type": "integer",
            "minimum": self.minimum,
            "maximum": self.maximum,
        }
        if self.default is not None:
            schema["default"] = self.default
        return Param(self.name, "query", self.description, schema)

    def read(self, request: web.Request) -> int:
        """The value, or the default when absent (this parameter must have one)."""
        assert self.default is not None, f"{self.name} has no default: use read_optional"
        return query_int(
            request, self.name, default=self.default, minimum=self.minimum, maximum=self.maximum
        )

    def read_optional(self, request: web.Request) -> int | None:
        """The value, or None when absent."""
        return query_int(
            request, self.name, default=None, minimum=self.minimum, maximum=self.maximum
        )
