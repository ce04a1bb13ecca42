"""RFC 9457 problem documents: the only error shape a client ever sees."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from core.errors import FieldError, QuarkError, UnavailableError

PROBLEM_TYPE = "application/problem+json"


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document, exactly as the edge sends it (fields it leaves out are
    absent, never null)."""

    #: `quark:<code>`: stable, what a client switches on.
    type: str
    title: str
    status: int
    detail: str | msgspec.UnsetType = msgspec.UNSET
    instance: str | msgspec.UnsetType = msgspec.UNSET
    #: For validation problems: each invalid field (`$` for the body as a whole).
    errors: list[FieldError] = []
    #: With `account-suspended`: when the suspension ends (null: indefinitely).
    suspended_until: datetime | msgspec.UnsetType | None = msgspec.UNSET


class ReadModelUnavailable(UnavailableError):
    """A read model that does not exist yet (first start, before its worker built it)."""

    code = "read-model-unavailable"
    title = "The read model is not ready yet"


class MethodNotAllowed(QuarkError):
    code = "method-not-allowed"
    status = 405
    title = "Method not allowed"


_encoder = msgspec.json.Encoder()


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[FieldError] | None = None,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
    members: dict[str, Any] | None = None,
) -> web.Response:
    body = Problem(
        type=f"quark:{code}",
        title=title,
        status=status,
        detail=msgspec.UNSET if detail is None else detail,
        errors=errors or [],
        **(members or {}),
    )
    hdrs = dict(headers or {})
    if retry_after is not None:
        hdrs["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return web.Response(
        status=status, body=_encoder.encode(body), content_type=PROBLEM_TYPE, headers=hdrs
    )


def from_error(exc: QuarkError) -> web.Response:
    retry_after = exc.retry_after
    if exc.status == 503 and retry_after is None:
        retry_after = 1
    return problem_response(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        errors=exc.errors,
        retry_after=retry_after,
        headers=exc.headers,
        members=exc.members,
    )
