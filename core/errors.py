"""Typed errors of the kernel. Each carries a stable `code` (also the problem `type` suffix)
and the HTTP status the edge maps it to; only `edge/` turns them into HTTP problems."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One invalid input field, as listed in a validation problem."""

    field: str
    message: str


class QuarkError(Exception):
    """Base of every error that may travel to a client.

    Domain errors raised inside `decide` subclass this (usually through a context's own base
    in `handlers/<ctx>/errors.py`) so the command bus can carry them over NATS unchanged.
    """

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        members: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.retry_after = retry_after
        #: Extra response headers (e.g. RateLimit-*), added by the edge to the problem.
        self.headers = headers or {}
        #: The problem's extension members (RFC 9457, section 3.2), each one the edge's
        #: `Problem` declares (`suspended_until`).
        self.members = members or {}


class ValidationError(QuarkError):
    code = "validation"
    status = 422
    title = "The request is not valid"


class NotFoundError(QuarkError):
    code = "not-found"
    status = 404
    title = "Not found"


class UnauthorizedError(QuarkError):
    """The caller is not authenticated: no credentials, or credentials that do not hold."""

    code = "unauthorized"
    status = 401
    title = "Authentication is required"


class ForbiddenError(QuarkError):
    code = "forbidden"
    status = 403
    title = "Not allowed"


class ConflictError(QuarkError):
    code = "conflict"
    status = 409
    title = "Conflict"


class ConcurrencyError(ConflictError):
    """The aggregate moved on since the decision was taken (expected sequence mismatch).

    Handlers catch it, reload and decide again; only after bounded retries does it reach a
    client as 409.
    """

    code = "concurrency-conflict"
    title = "The resource was changed concurrently; retry"

    def __init__(self, subject: str, expected: int, actual: int | None = None) -> None:
        super().__init__(f"expected last sequence {expected} on {subject}, found {actual}")
        self.subject = subject
        self.expected = expected
        self.actual = actual


class UnavailableError(QuarkError):
    """A dependency (NATS, PostgreSQL, Redis) does not answer; the client may retry."""

    code = "unavailable"
    status = 503
    title = "A dependency is unavailable; retry later"

    def __init__(self, detail: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(detail, retry_after=retry_after)


class OverloadedError(UnavailableError):
    """More work is in flight than this process takes on: shed at once (503 with
    Retry-After) rather than queued until every caller times out."""

    code = "overloaded"
    title = "The service is busy; retry shortly"


class TimeoutWaitingError(UnavailableError):
    """A read waited for a position its projection has not reached in time."""

    code = "position-not-reached"
    title = "The read model has not caught up yet; retry"


class ConfigError(Exception):
    """A configuration file or setting is wrong; the message names the field (and line)."""


class RemoteError(QuarkError):
    """A typed error raised by a handler in another process, revived from its wire form.

    The edge only needs the stable code, status and texts to build a problem document, so
    the error keeps those instead of re-creating the handler's class.
    """

    def __init__(
        self,
        code: str,
        status: int,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
        retry_after: float | None = None,
        members: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors, retry_after=retry_after, members=members)
        self.code = code  # type: ignore[misc]
        self.status = status  # type: ignore[misc]
        self.title = title  # type: ignore[misc]
